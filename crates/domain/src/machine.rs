//! The status machine of a template, in the style of javascript-state-machine:
//! `{init, transitions: [{name, from, to}]}` over the template's status labels.

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Where a transition may start: one status, several, or any (`"*"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum TransitionFrom {
    /// A single status label, or `"*"` for any status.
    One(String),
    /// Any of these status labels.
    Many(Vec<String>),
}

impl TransitionFrom {
    /// True when the transition may start at `label`.
    pub fn includes(&self, label: &str) -> bool {
        match self {
            TransitionFrom::One(s) => s == "*" || s == label,
            TransitionFrom::Many(v) => v.iter().any(|s| s == "*" || s == label),
        }
    }

    fn labels(&self) -> Vec<&str> {
        match self {
            TransitionFrom::One(s) => vec![s.as_str()],
            TransitionFrom::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }

    fn rename(&mut self, old: &str, new: &str) {
        match self {
            TransitionFrom::One(s) if s == old => *s = new.to_string(),
            TransitionFrom::Many(v) => v.iter_mut().filter(|s| *s == old).for_each(|s| *s = new.to_string()),
            _ => {}
        }
    }
}

/// One named move between statuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Transition {
    /// Name of the transition, e.g. `call`.
    pub name: String,
    /// Status label(s) it starts from; `"*"` means any.
    pub from: TransitionFrom,
    /// Status label it ends at.
    pub to: String,
}

/// The allowed moves between a template's statuses. With no transitions at all, every move is
/// allowed (a free-form board); with at least one, only listed moves are.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusMachine {
    /// Label of the status new items start in; `None` means the lowest-ordered status.
    pub init: Option<String>,
    /// The allowed transitions.
    pub transitions: Vec<Transition>,
}

impl StatusMachine {
    /// True when no transition leaves `label` (a transition from it to itself does not leave it).
    /// With no transitions at all every status is terminal: nothing ever has to move on.
    pub fn is_terminal(&self, label: &str) -> bool {
        !self.transitions.iter().any(|t| t.to != label && t.from.includes(label))
    }

    /// Checks that every label the machine names exists in `labels` and transition names are unique.
    pub fn validate(&self, labels: &[&str]) -> Result<(), DomainError> {
        let known = |l: &str| l == "*" || labels.contains(&l);
        if let Some(init) = &self.init {
            if !labels.contains(&init.as_str()) {
                return Err(invalid("init", format!("'{init}' is not a status of the template")));
            }
        }
        let mut names: Vec<&str> = Vec::new();
        for t in &self.transitions {
            if t.name.trim().is_empty() {
                return Err(invalid("transitions", "a transition needs a name".into()));
            }
            if names.contains(&t.name.as_str()) {
                return Err(invalid("transitions", format!("transition '{}' is defined twice", t.name)));
            }
            names.push(&t.name);
            if let Some(bad) = t.from.labels().into_iter().find(|l| !known(l)) {
                return Err(invalid("transitions", format!("'{bad}' in transition '{}' is not a status", t.name)));
            }
            if !labels.contains(&t.to.as_str()) {
                return Err(invalid("transitions", format!("'{}' in transition '{}' is not a status", t.to, t.name)));
            }
        }
        Ok(())
    }

    /// Whether an item may move from status `from` to status `to`.
    pub fn allows(&self, from: &str, to: &str) -> bool {
        self.transitions.is_empty() || self.transitions.iter().any(|t| t.to == to && t.from.includes(from))
    }

    /// Checks a move between two statuses.
    pub fn check_move(&self, from: &str, to: &str) -> Result<(), DomainError> {
        if self.allows(from, to) {
            Ok(())
        } else {
            Err(DomainError::InvalidStatusTransition { from: from.to_string(), to: to.to_string() })
        }
    }

    /// Resolves a named transition taken from status `from` to its target label.
    pub fn fire(&self, name: &str, from: &str) -> Result<&str, DomainError> {
        self.transitions
            .iter()
            .find(|t| t.name == name && t.from.includes(from))
            .map(|t| t.to.as_str())
            .ok_or_else(|| DomainError::UnknownTransition { name: name.to_string(), from: from.to_string() })
    }

    /// Renames a status label everywhere the machine mentions it.
    pub fn rename_status(&mut self, old: &str, new: &str) {
        if self.init.as_deref() == Some(old) {
            self.init = Some(new.to_string());
        }
        for t in &mut self.transitions {
            t.from.rename(old, new);
            if t.to == old {
                t.to = new.to_string();
            }
        }
    }
}

fn invalid(field: &'static str, reason: String) -> DomainError {
    DomainError::Invalid { field, reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(name: &str, from: TransitionFrom, to: &str) -> Transition {
        Transition { name: name.into(), from, to: to.into() }
    }

    fn machine() -> StatusMachine {
        StatusMachine {
            init: Some("Waiting".into()),
            transitions: vec![
                t("call", TransitionFrom::One("Waiting".into()), "Serving"),
                t("finish", TransitionFrom::One("Serving".into()), "Done"),
                t("cancel", TransitionFrom::Many(vec!["Waiting".into(), "Serving".into()]), "Cancelled"),
                t("reopen", TransitionFrom::One("*".into()), "Waiting"),
            ],
        }
    }

    #[test]
    fn terminal_statuses_are_those_no_transition_leaves() {
        let mut m = machine();
        m.transitions.retain(|t| t.name != "reopen");
        let cases = [("Waiting", false), ("Serving", false), ("Done", true), ("Cancelled", true)];
        for (label, terminal) in cases {
            assert_eq!(m.is_terminal(label), terminal, "{label}");
        }
        assert!(!machine().is_terminal("Done"), "reopen from * leaves every status");
        assert!(StatusMachine::default().is_terminal("Anything"), "a free-form board has no live status");
    }

    #[test]
    fn listed_moves_are_allowed_and_others_refused() {
        let m = machine();
        let cases = [
            ("Waiting", "Serving", true),
            ("Serving", "Done", true),
            ("Waiting", "Done", false),
            ("Serving", "Cancelled", true),
            ("Done", "Cancelled", false),
            ("Done", "Waiting", true),
        ];
        for (from, to, ok) in cases {
            assert_eq!(m.allows(from, to), ok, "{from} -> {to}");
        }
    }

    #[test]
    fn an_empty_machine_allows_every_move() {
        assert!(StatusMachine::default().allows("A", "B"));
    }

    #[test]
    fn firing_a_named_transition_gives_its_target() {
        let m = machine();
        assert_eq!(m.fire("call", "Waiting").unwrap(), "Serving");
        assert_eq!(
            m.fire("call", "Done").unwrap_err(),
            DomainError::UnknownTransition { name: "call".into(), from: "Done".into() }
        );
    }

    #[test]
    fn validation_rejects_unknown_labels_and_duplicate_names() {
        let labels = ["Waiting", "Serving", "Done", "Cancelled"];
        assert!(machine().validate(&labels).is_ok());
        let mut bad = machine();
        bad.transitions.push(t("x", TransitionFrom::One("Nowhere".into()), "Done"));
        assert!(matches!(bad.validate(&labels), Err(DomainError::Invalid { field: "transitions", .. })));
        let mut dup = machine();
        dup.transitions.push(t("call", TransitionFrom::One("Done".into()), "Serving"));
        assert!(dup.validate(&labels).is_err());
        let mut init = machine();
        init.init = Some("Nope".into());
        assert!(matches!(init.validate(&labels), Err(DomainError::Invalid { field: "init", .. })));
    }

    #[test]
    fn renaming_a_status_keeps_the_machine_equivalent() {
        let mut m = machine();
        m.rename_status("Serving", "At desk");
        assert!(m.allows("Waiting", "At desk"));
        assert!(m.allows("At desk", "Done"));
        assert!(!m.allows("Waiting", "Serving"));
        assert_eq!(m.fire("cancel", "At desk").unwrap(), "Cancelled");
    }

    #[test]
    fn transition_from_accepts_a_string_or_a_list_in_json() {
        let one: Transition = serde_json::from_str(r#"{"name":"a","from":"X","to":"Y"}"#).unwrap();
        assert_eq!(one.from, TransitionFrom::One("X".into()));
        let many: Transition = serde_json::from_str(r#"{"name":"a","from":["X","Z"],"to":"Y"}"#).unwrap();
        assert_eq!(many.from, TransitionFrom::Many(vec!["X".into(), "Z".into()]));
    }

    proptest! {
        /// `check_move` agrees with `allows`, and every named transition fired from one of its
        /// sources lands on a status that `allows` accepts.
        #[test]
        fn fire_and_check_move_agree(
            edges in proptest::collection::vec((0usize..5, 0usize..5), 0..12),
            from in 0usize..5,
            to in 0usize..5,
        ) {
            let labels = ["A", "B", "C", "D", "E"];
            let m = StatusMachine {
                init: None,
                transitions: edges.iter().enumerate()
                    .map(|(i, (f, t2))| t(&format!("t{i}"), TransitionFrom::One(labels[*f].into()), labels[*t2]))
                    .collect(),
            };
            prop_assert!(m.validate(&labels).is_ok());
            prop_assert_eq!(m.check_move(labels[from], labels[to]).is_ok(), m.allows(labels[from], labels[to]));
            for (i, (f, t2)) in edges.iter().enumerate() {
                let target = m.fire(&format!("t{i}"), labels[*f]).unwrap();
                prop_assert_eq!(target, labels[*t2]);
                prop_assert!(m.allows(labels[*f], target));
            }
            let expected = edges.is_empty() || edges.iter().any(|(f, t2)| *f == from && *t2 == to);
            prop_assert_eq!(m.allows(labels[from], labels[to]), expected);
        }
    }
}
