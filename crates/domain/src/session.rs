//! Sessions: numbered shifts of a queue with a lifecycle, and the statuses cloned into them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::template::validate_color;
use crate::{validate_name, DomainError, EventKind};

/// Where a session is in its life. Moves: active⇄paused, active|paused→completed,
/// completed→archived. Nothing leaves archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    Active,
    Paused,
    Completed,
    Archived,
}

impl Lifecycle {
    /// Every lifecycle value.
    pub const ALL: [Lifecycle; 4] = [Lifecycle::Active, Lifecycle::Paused, Lifecycle::Completed, Lifecycle::Archived];

    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Active => "active",
            Lifecycle::Paused => "paused",
            Lifecycle::Completed => "completed",
            Lifecycle::Archived => "archived",
        }
    }

    /// Whether the lifecycle allows moving from `self` to `to`.
    pub fn can_move_to(self, to: Lifecycle) -> bool {
        use Lifecycle::*;
        matches!((self, to), (Active, Paused) | (Paused, Active) | (Active | Paused, Completed) | (Completed, Archived))
    }

    /// Checks a move and names the event it emits, if any.
    pub fn move_to(self, to: Lifecycle) -> Result<Option<EventKind>, DomainError> {
        if !self.can_move_to(to) {
            return Err(DomainError::InvalidLifecycleTransition { from: self, to });
        }
        Ok(match to {
            Lifecycle::Paused => Some(EventKind::SessionPaused),
            Lifecycle::Active => Some(EventKind::SessionResumed),
            Lifecycle::Completed => Some(EventKind::SessionCompleted),
            Lifecycle::Archived => None,
        })
    }
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Lifecycle {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lifecycle::ALL.into_iter().find(|l| l.as_str() == s).ok_or_else(|| DomainError::Invalid {
            field: "lifecycleStatus",
            reason: format!("unknown lifecycle '{s}'"),
        })
    }
}

/// A session of a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub id: Uuid,
    pub queue_id: Uuid,
    pub name: String,
    pub lifecycle_status: Lifecycle,
    /// 1, 2, 3… per queue.
    pub session_number: i64,
    pub started_at: DateTime<Utc>,
    /// Set when the session is completed.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub ended_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl Session {
    /// Moves the lifecycle, stamping `ended_at` on completion; returns the event to emit.
    pub fn change_lifecycle(&mut self, to: Lifecycle, now: DateTime<Utc>) -> Result<Option<EventKind>, DomainError> {
        let event = self.lifecycle_status.move_to(to)?;
        self.lifecycle_status = to;
        if to == Lifecycle::Completed {
            self.ended_at = Some(now);
        }
        Ok(event)
    }

    /// Items of a completed or archived session are frozen: no edits, no status moves.
    pub fn ensure_open(&self) -> Result<(), DomainError> {
        match self.lifecycle_status {
            Lifecycle::Active | Lifecycle::Paused => Ok(()),
            lifecycle => Err(DomainError::SessionNotActive { lifecycle }),
        }
    }

    /// Items can be added to active sessions only.
    pub fn ensure_active(&self) -> Result<(), DomainError> {
        if self.lifecycle_status == Lifecycle::Active {
            Ok(())
        } else {
            Err(DomainError::SessionNotActive { lifecycle: self.lifecycle_status })
        }
    }
}

/// The name a session gets when created without one.
pub fn default_session_name(session_number: i64) -> String {
    format!("Session {session_number}")
}

/// The request to open a session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSession {
    /// Defaults to "Session N".
    #[serde(default)]
    pub name: Option<String>,
}

/// A change to a session's name (its lifecycle moves through its own route).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionPatch {
    #[serde(default)]
    pub name: Option<String>,
}

impl SessionPatch {
    /// Applies the patch, validating a new name.
    pub fn apply(self, session: &mut Session) -> Result<(), DomainError> {
        if let Some(name) = self.name {
            session.name = validate_name("name", &name)?;
        }
        Ok(())
    }
}

/// A status of one session, cloned from its template when the session was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionStatus {
    pub id: Uuid,
    pub session_id: Uuid,
    pub label: String,
    pub color: String,
    pub order: i32,
}

/// A change to a session status; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionStatusPatch {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub order: Option<i32>,
}

impl SessionStatusPatch {
    /// Applies the patch; `others` are the session's other labels (a label must stay unique).
    /// Returns the old label when it changed, so the session machine can be renamed.
    pub fn apply(self, status: &mut SessionStatus, others: &[&str]) -> Result<Option<String>, DomainError> {
        let mut renamed = None;
        if let Some(label) = self.label {
            let label = validate_name("label", &label)?;
            if label == "*" {
                return Err(DomainError::Invalid { field: "label", reason: "'*' is reserved for 'any status'".into() });
            }
            if others.contains(&label.as_str()) {
                return Err(DomainError::DuplicateStatusLabel { label });
            }
            if label != status.label {
                renamed = Some(std::mem::replace(&mut status.label, label));
            }
        }
        if let Some(color) = self.color {
            status.color = validate_color(&color)?;
        }
        if let Some(order) = self.order {
            status.order = order;
        }
        Ok(renamed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_lifecycle_table_is_exactly_the_contract() {
        use Lifecycle::*;
        let allowed =
            [(Active, Paused), (Paused, Active), (Active, Completed), (Paused, Completed), (Completed, Archived)];
        for from in Lifecycle::ALL {
            for to in Lifecycle::ALL {
                assert_eq!(from.can_move_to(to), allowed.contains(&(from, to)), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn lifecycle_moves_name_their_events() {
        use Lifecycle::*;
        assert_eq!(Active.move_to(Paused).unwrap(), Some(EventKind::SessionPaused));
        assert_eq!(Paused.move_to(Active).unwrap(), Some(EventKind::SessionResumed));
        assert_eq!(Paused.move_to(Completed).unwrap(), Some(EventKind::SessionCompleted));
        assert_eq!(Completed.move_to(Archived).unwrap(), None);
        assert_eq!(
            Archived.move_to(Active).unwrap_err(),
            DomainError::InvalidLifecycleTransition { from: Archived, to: Active }
        );
    }

    #[test]
    fn completing_stamps_ended_at() {
        let now = Utc::now();
        let mut s = Session {
            id: Uuid::nil(),
            queue_id: Uuid::nil(),
            name: "s".into(),
            lifecycle_status: Lifecycle::Active,
            session_number: 1,
            started_at: now,
            ended_at: None,
            created_at: now,
        };
        s.change_lifecycle(Lifecycle::Completed, now).unwrap();
        assert_eq!(s.ended_at, Some(now));
        assert!(s.ensure_active().is_err());
    }

    #[test]
    fn renaming_a_status_to_a_taken_label_is_refused() {
        let mut st = SessionStatus {
            id: Uuid::nil(),
            session_id: Uuid::nil(),
            label: "A".into(),
            color: "#000000".into(),
            order: 0,
        };
        let patch = SessionStatusPatch { label: Some("B".into()), ..Default::default() };
        assert_eq!(patch.apply(&mut st, &["B"]).unwrap_err(), DomainError::DuplicateStatusLabel { label: "B".into() });
        let patch = SessionStatusPatch { label: Some("C".into()), color: Some("#FFFFFF".into()), order: Some(3) };
        assert_eq!(patch.apply(&mut st, &["B"]).unwrap(), Some("A".to_string()));
        assert_eq!((st.label.as_str(), st.color.as_str(), st.order), ("C", "#ffffff", 3));
    }

    proptest! {
        /// Any sequence of requested moves leaves a session in a state reachable by allowed moves
        /// only, and once archived it stays archived.
        #[test]
        fn random_lifecycle_walks_follow_the_table(moves in proptest::collection::vec(0usize..4, 0..30)) {
            let mut state = Lifecycle::Active;
            for m in moves {
                let to = Lifecycle::ALL[m];
                let before = state;
                match state.move_to(to) {
                    Ok(_) => { prop_assert!(before.can_move_to(to)); state = to; }
                    Err(_) => prop_assert!(!before.can_move_to(to)),
                }
                if before == Lifecycle::Archived { prop_assert_eq!(state, Lifecycle::Archived); }
            }
        }
    }
}
