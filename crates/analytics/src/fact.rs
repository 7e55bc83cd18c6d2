//! The input of every figure: one finished, reconciled queue call ([`CallFact`]).
//!
//! A call is counted in the period or bucket in which it **entered the queue** (`entered_at`),
//! whatever time it was answered or ended: a call that waited from 09:59 to 10:02 belongs to the
//! 09:45–10:00 quarter hour. Only finished calls are facts; a call still waiting or talking is
//! live state, not history.
//!
//! Durations are read through the `counted_*` accessors, which clamp them to
//! `0..=`[`MAX_COUNTED_DURATION_MS`]: a negative duration (clock skew in a call log) counts as
//! zero and an absurdly long one as the cap, so one bad record can't overflow a sum.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The longest duration a fact is counted with: 31 days, in milliseconds.
pub const MAX_COUNTED_DURATION_MS: u64 = 31 * 24 * 3_600_000;

/// How a call left the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// An agent answered it.
    Answered,
    /// The caller hung up while waiting.
    Abandoned,
    /// The queue sent it elsewhere (overflow destination, voicemail, timeout route).
    Overflowed,
    /// It was lost without a caller decision (line dropped, system failure).
    Dropped,
}

/// One finished queue call as the reports see it; the integrator maps call records into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CallFact {
    /// The queue the call waited in.
    pub queue: Uuid,
    /// The extension of the agent who answered, if one did.
    pub agent: Option<String>,
    /// The answering agent's team, if known.
    pub team: Option<String>,
    /// When the call entered the queue; the time every period and bucket is keyed by.
    pub entered_at: DateTime<Utc>,
    /// When an agent answered.
    pub answered_at: Option<DateTime<Utc>>,
    /// When the call left the queue (answered, abandoned, overflowed or dropped).
    pub left_queue_at: Option<DateTime<Utc>>,
    /// When the call ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Time spent waiting in the queue before answer or leaving, in milliseconds.
    pub wait_ms: i64,
    /// Talk time in milliseconds.
    pub talk_ms: i64,
    /// Hold time in milliseconds.
    pub hold_ms: i64,
    /// After-call work (wrap-up) time in milliseconds.
    pub wrap_ms: i64,
    /// How the call left the queue.
    pub outcome: Outcome,
    /// Whether the answering agent transferred the call.
    pub transferred: bool,
    /// Whether the call was (or asked for) a callback.
    pub callback: bool,
}

/// Clamps a duration to `0..=MAX_COUNTED_DURATION_MS`.
fn counted(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0).min(MAX_COUNTED_DURATION_MS)
}

impl CallFact {
    /// The wait every figure uses: `wait_ms` clamped to `0..=MAX_COUNTED_DURATION_MS`.
    pub fn counted_wait_ms(&self) -> u64 {
        counted(self.wait_ms)
    }

    /// The wait truncated to whole seconds (`counted_wait_ms / 1000`, rounded down), as the wait
    /// histograms and percentiles see it: 19.999 s is 19 s.
    pub fn wait_whole_secs(&self) -> u32 {
        // MAX_COUNTED_DURATION_MS / 1000 fits in u32 comfortably.
        (self.counted_wait_ms() / 1000) as u32
    }

    /// Talk time clamped to `0..=MAX_COUNTED_DURATION_MS`.
    pub fn counted_talk_ms(&self) -> u64 {
        counted(self.talk_ms)
    }

    /// Hold time clamped to `0..=MAX_COUNTED_DURATION_MS`.
    pub fn counted_hold_ms(&self) -> u64 {
        counted(self.hold_ms)
    }

    /// Wrap-up time clamped to `0..=MAX_COUNTED_DURATION_MS`.
    pub fn counted_wrap_ms(&self) -> u64 {
        counted(self.wrap_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact_waiting(wait_ms: i64) -> CallFact {
        CallFact {
            queue: Uuid::nil(),
            agent: None,
            team: None,
            entered_at: DateTime::UNIX_EPOCH,
            answered_at: None,
            left_queue_at: None,
            ended_at: None,
            wait_ms,
            talk_ms: 0,
            hold_ms: 0,
            wrap_ms: 0,
            outcome: Outcome::Abandoned,
            transferred: false,
            callback: false,
        }
    }

    #[test]
    fn waits_are_clamped_then_truncated_to_whole_seconds() {
        let cases: [(i64, u64, u32); 6] = [
            (-5, 0, 0),
            (0, 0, 0),
            (999, 999, 0),
            (19_999, 19_999, 19),
            (20_000, 20_000, 20),
            (i64::MAX, MAX_COUNTED_DURATION_MS, 2_678_400),
        ];
        for (wait_ms, counted_ms, whole_secs) in cases {
            let fact = fact_waiting(wait_ms);
            assert_eq!(fact.counted_wait_ms(), counted_ms, "wait_ms {wait_ms}");
            assert_eq!(fact.wait_whole_secs(), whole_secs, "wait_ms {wait_ms}");
        }
    }

    #[test]
    fn facts_serialise_with_camel_case_names() {
        let json = serde_json::to_value(fact_waiting(1500)).unwrap();
        assert_eq!(json["waitMs"], 1500);
        assert_eq!(json["enteredAt"], "1970-01-01T00:00:00Z");
        assert_eq!(json["outcome"], "abandoned");
    }
}
