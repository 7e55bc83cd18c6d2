//! Phases of a call and how its queue item moves through the "call" template's statuses.

use std::collections::{BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::{StatusMachine, Transition, TransitionFrom};

/// Where a call stands from its queue's point of view; each phase is one status of the "call"
/// template. The lifecycle machine never derives `WrapUp` (3CX reports no wrap-up on a call): an
/// answered call goes from `Talking` to `Completed`; `WrapUp` exists for items people move by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// In the queue, no phone ringing.
    Waiting,
    /// An agent's phone is ringing.
    Ringing,
    /// Answered; the conversation goes on.
    Talking,
    /// The conversation is over, the agent wraps up.
    WrapUp,
    /// Answered and ended.
    Completed,
    /// Left the queue without an answer: abandoned, overflowed or dropped (the record's outcome
    /// says which).
    Abandoned,
}

impl Phase {
    /// Every phase, in the template's status order.
    pub const ALL: [Phase; 6] =
        [Phase::Waiting, Phase::Ringing, Phase::Talking, Phase::WrapUp, Phase::Completed, Phase::Abandoned];

    /// The label of the "call" template status this phase is.
    pub fn status_label(self) -> &'static str {
        match self {
            Phase::Waiting => "Waiting",
            Phase::Ringing => "Ringing",
            Phase::Talking => "Talking",
            Phase::WrapUp => "Wrap-up",
            Phase::Completed => "Completed",
            Phase::Abandoned => "Abandoned",
        }
    }

    /// The phase a "call" template status label stands for.
    pub fn from_status_label(label: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.status_label() == label)
    }

    /// True for phases the template's machine never leaves (`Completed`, `Abandoned`).
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Completed | Phase::Abandoned)
    }

    /// The transitions of [`call_status_machine`] that take an item from this phase to `target`,
    /// shortest first (empty when already there); `None` when the machine offers no way, e.g. out
    /// of a terminal phase when history corrects a provisional outcome.
    pub fn transitions_to(self, target: Phase) -> Option<Vec<String>> {
        transition_path(&call_status_machine(), self.status_label(), target.status_label())
    }
}

/// The status machine of the "call" template, over the labels of [`Phase::status_label`]:
/// `ring` Waiting→Ringing, `answer` Ringing→Talking, `wrap` Talking→Wrap-up, `complete`
/// Wrap-up|Talking→Completed, `abandon` Waiting|Ringing→Abandoned, `requeue` Ringing→Waiting.
pub fn call_status_machine() -> StatusMachine {
    let step = |name: &str, from: &[Phase], to: Phase| Transition {
        name: name.into(),
        from: TransitionFrom::Many(from.iter().map(|p| p.status_label().to_string()).collect()),
        to: to.status_label().into(),
    };
    StatusMachine {
        init: Some(Phase::Waiting.status_label().into()),
        transitions: vec![
            step("ring", &[Phase::Waiting], Phase::Ringing),
            step("answer", &[Phase::Ringing], Phase::Talking),
            step("wrap", &[Phase::Talking], Phase::WrapUp),
            step("complete", &[Phase::WrapUp, Phase::Talking], Phase::Completed),
            step("abandon", &[Phase::Waiting, Phase::Ringing], Phase::Abandoned),
            step("requeue", &[Phase::Ringing], Phase::Waiting),
        ],
    }
}

/// The names of the fewest transitions of `machine` that lead from status `from` to status `to`
/// (ties go to the transitions listed first); empty when `from == to`; `None` when no chain of
/// named transitions leads there (always so for a machine without transitions, where a worker
/// sets the status directly).
pub fn transition_path(machine: &StatusMachine, from: &str, to: &str) -> Option<Vec<String>> {
    let mut seen = BTreeSet::from([from.to_string()]);
    let mut queue = VecDeque::from([(from.to_string(), Vec::new())]);
    while let Some((at, path)) = queue.pop_front() {
        if at == to {
            return Some(path);
        }
        for t in machine.transitions.iter().filter(|t| t.from.includes(&at)) {
            if seen.insert(t.to.clone()) {
                let mut next = path.clone();
                next.push(t.name.clone());
                queue.push_back((t.to.clone(), next));
            }
        }
    }
    None
}

/// The colour of each phase's status in [`call_template`].
fn phase_color(phase: Phase) -> &'static str {
    match phase {
        Phase::Waiting => "#f9a825",
        Phase::Ringing => "#fb8c00",
        Phase::Talking => "#43a047",
        Phase::WrapUp => "#1e88e5",
        Phase::Completed => "#757575",
        Phase::Abandoned => "#e53935",
    }
}

/// The "call" template: one status per [`Phase`] in order, starting at `Waiting`, with the
/// transitions of [`call_status_machine`]. Queues a 3CX call queue maps to use it (or a copy with
/// the same labels).
pub fn call_template(name: impl Into<String>) -> crate::NewTemplate {
    let machine = call_status_machine();
    crate::NewTemplate {
        name: name.into(),
        statuses: Phase::ALL
            .into_iter()
            .map(|p| crate::NewTemplateStatus {
                label: p.status_label().into(),
                color: Some(phase_color(p).into()),
                order: None,
            })
            .collect(),
        init: machine.init,
        transitions: machine.transitions,
        metadata_schema: None,
    }
}
