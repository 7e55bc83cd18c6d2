//! The crate's one error type.

use chrono::{DateTime, Utc};

use crate::accumulate::TallyRules;

/// Everything that can go wrong in this crate; every fallible function returns it.
///
/// Each variant names a caller mistake (inputs that break a documented precondition); nothing here
/// is transient, so none is worth retrying.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalyticsError {
    /// Two tallies built with different thresholds can't be merged: their counts mean different
    /// things.
    #[error("tallies built with different rules can't be combined: {left:?} vs {right:?}")]
    RulesDiffer {
        /// The rules of the tally being changed.
        left: TallyRules,
        /// The rules of the other tally.
        right: TallyRules,
    },
    /// Removing the fact would take a count, sum or histogram bin below zero, so the fact was
    /// never added to this tally. The tally is left unchanged.
    #[error("the fact is not part of this tally ({0})")]
    FactNotInTally(&'static str),
    /// A time-ordered input (samples, evaluation times) went back in time.
    #[error("time went backwards: {now} is before {latest}")]
    TimeWentBackwards {
        /// The latest time already seen.
        latest: DateTime<Utc>,
        /// The earlier time just given.
        now: DateTime<Utc>,
    },
    /// A numeric input is out of its documented range (negative, not finite, above one...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A staffing target can't be met with any number of agents the search tries.
    #[error("no number of agents up to {max_agents} meets the target")]
    TargetUnreachable {
        /// The largest number of agents tried.
        max_agents: u32,
    },
}
