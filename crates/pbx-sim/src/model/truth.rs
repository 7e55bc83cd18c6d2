//! Ground truth: what really happened, per call and per queue per interval, as flat serde rows
//! (JSON- and CSV-friendly) that analytics tests compare against exactly. Durations are whole
//! milliseconds so totals add up without rounding; averages are derived from the totals.

use std::num::NonZeroU32;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::calls::CallOutcome;

/// One finished call as it really happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallTruth {
    /// The call id (as in `ActiveCalls`).
    pub call_id: i32,
    /// The main call history id of its record.
    pub history_id: String,
    /// The queue the call entered.
    pub queue_dn: String,
    /// The external caller's number.
    pub caller_number: String,
    /// Arrival in the queue.
    pub arrived_at: DateTime<Utc>,
    /// When the call left the queue: answered, abandoned, overflowed or dropped.
    pub left_queue_at: DateTime<Utc>,
    /// When an agent picked up (set exactly for answered calls).
    pub answered_at: Option<DateTime<Utc>>,
    /// When the caller hung up unanswered (set exactly for abandoned calls).
    pub abandoned_at: Option<DateTime<Utc>>,
    /// When the call ended altogether (hang-up, abandon, end of the voicemail message).
    pub ended_at: DateTime<Utc>,
    /// How the call ended.
    pub outcome: CallOutcome,
    /// Time in the queue: `left_queue_at - arrived_at`, ms (for answered calls: to pick-up).
    pub wait_ms: i64,
    /// Conversation length, ms; zero unless answered.
    pub talk_ms: i64,
    /// The agent who answered.
    pub agent_dn: Option<String>,
    /// Number of ring attempts (under ring-all one attempt rings several agents).
    pub ring_attempts: u32,
    /// The caller's patience (how long they would have waited), ms.
    pub patience_ms: i64,
    /// The queue's SLA threshold, seconds.
    pub sla_secs: u32,
    /// Answered with `wait_ms <= sla_secs * 1000`.
    pub answered_within_sla: bool,
}

/// One queue's traffic in one interval. Calls count in the interval of their arrival, once they
/// have ended (a call still in progress is not counted anywhere yet).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntervalTruth {
    /// The queue.
    pub queue_dn: String,
    /// Interval start, aligned to a multiple of the interval length since the Unix epoch.
    pub interval_start: DateTime<Utc>,
    /// Interval end (exclusive).
    pub interval_end: DateTime<Utc>,
    /// Calls that arrived: answered + abandoned + overflowed + dropped.
    pub offered: u32,
    /// Answered by an agent.
    pub answered: u32,
    /// Caller hung up while waiting.
    pub abandoned: u32,
    /// Sent to voicemail by the maximum wait.
    pub overflowed: u32,
    /// Dropped through the API before an answer.
    pub dropped: u32,
    /// Answered within the queue's SLA threshold.
    pub answered_within_sla: u32,
    /// Sum of the waits of all offered calls, ms.
    pub wait_total_ms: i64,
    /// Longest wait of any offered call, ms (0 when none).
    pub wait_max_ms: i64,
    /// Mean wait of all offered calls, seconds.
    pub wait_avg_secs: Option<f64>,
    /// Sum of the waits of answered calls (time to answer), ms.
    pub answer_wait_total_ms: i64,
    /// Mean time to answer of answered calls, seconds.
    pub answer_wait_avg_secs: Option<f64>,
    /// Sum of talk times of answered calls, ms.
    pub talk_total_ms: i64,
    /// Mean talk time of answered calls, seconds.
    pub talk_avg_secs: Option<f64>,
}

impl IntervalTruth {
    fn empty(queue_dn: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        IntervalTruth {
            queue_dn: queue_dn.to_string(),
            interval_start: start,
            interval_end: end,
            offered: 0,
            answered: 0,
            abandoned: 0,
            overflowed: 0,
            dropped: 0,
            answered_within_sla: 0,
            wait_total_ms: 0,
            wait_max_ms: 0,
            wait_avg_secs: None,
            answer_wait_total_ms: 0,
            answer_wait_avg_secs: None,
            talk_total_ms: 0,
            talk_avg_secs: None,
        }
    }

    fn add(&mut self, call: &CallTruth) {
        self.offered += 1;
        self.wait_total_ms += call.wait_ms;
        self.wait_max_ms = self.wait_max_ms.max(call.wait_ms);
        match call.outcome {
            CallOutcome::Answered => {
                self.answered += 1;
                self.answer_wait_total_ms += call.wait_ms;
                self.talk_total_ms += call.talk_ms;
                self.answered_within_sla += u32::from(call.answered_within_sla);
            }
            CallOutcome::Abandoned => self.abandoned += 1,
            CallOutcome::Overflowed => self.overflowed += 1,
            CallOutcome::Dropped => self.dropped += 1,
        }
    }

    fn finish(&mut self) {
        let avg = |total: i64, n: u32| (n > 0).then(|| total as f64 / 1000.0 / f64::from(n));
        self.wait_avg_secs = avg(self.wait_total_ms, self.offered);
        self.answer_wait_avg_secs = avg(self.answer_wait_total_ms, self.answered);
        self.talk_avg_secs = avg(self.talk_total_ms, self.answered);
    }
}

/// Per queue (in `queue_dns` order) and per interval (in time order), every interval that
/// overlaps `[from, to)`, including empty ones. Calls of other queues or arriving outside the
/// covered intervals are ignored.
pub fn interval_truths(
    calls: &[CallTruth],
    queue_dns: &[&str],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    interval_secs: NonZeroU32,
) -> Vec<IntervalTruth> {
    let len_ms = i64::from(interval_secs.get()) * 1000;
    let first = from.timestamp_millis().div_euclid(len_ms);
    let end_ms = to.timestamp_millis();
    let count = if end_ms <= from.timestamp_millis() { 0 } else { (end_ms - 1).div_euclid(len_ms) - first + 1 };
    let count = usize::try_from(count).unwrap_or(0);
    let at = |k: i64| DateTime::<Utc>::UNIX_EPOCH + TimeDelta::milliseconds(k * len_ms);
    let mut rows: Vec<IntervalTruth> = queue_dns
        .iter()
        .flat_map(|dn| (0..count as i64).map(move |k| (dn, k)))
        .map(|(dn, k)| IntervalTruth::empty(dn, at(first + k), at(first + k + 1)))
        .collect();
    for call in calls {
        let Some(q) = queue_dns.iter().position(|dn| *dn == call.queue_dn) else { continue };
        let k = call.arrived_at.timestamp_millis().div_euclid(len_ms) - first;
        if let Ok(k) = usize::try_from(k) {
            if k < count {
                rows[q * count + k].add(call);
            }
        }
    }
    rows.iter_mut().for_each(IntervalTruth::finish);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(secs)
    }

    /// (queue, arrival secs, outcome, wait ms, talk ms, within SLA)
    fn call(row: (&str, i64, CallOutcome, i64, i64, bool)) -> CallTruth {
        let (queue, arrived, outcome, wait_ms, talk_ms, within) = row;
        CallTruth {
            call_id: 1,
            history_id: String::new(),
            queue_dn: queue.into(),
            caller_number: String::new(),
            arrived_at: t(arrived),
            left_queue_at: t(arrived) + TimeDelta::milliseconds(wait_ms),
            answered_at: None,
            abandoned_at: None,
            ended_at: t(arrived),
            outcome,
            wait_ms,
            talk_ms,
            agent_dn: None,
            ring_attempts: 0,
            patience_ms: 0,
            sla_secs: 20,
            answered_within_sla: within,
        }
    }

    #[test]
    fn calls_are_counted_in_the_interval_of_their_arrival() {
        use CallOutcome::*;
        let calls: Vec<CallTruth> = [
            ("800", 0, Answered, 10_000, 60_000, true),
            ("800", 899, Abandoned, 30_000, 0, false),
            ("800", 900, Answered, 40_000, 100_000, false),
            ("801", 100, Overflowed, 300_000, 0, false),
            ("802", 100, Answered, 1, 1, true),  // not a listed queue
            ("800", 1800, Answered, 1, 1, true), // after `to`
        ]
        .into_iter()
        .map(call)
        .collect();
        let rows = interval_truths(&calls, &["800", "801"], t(0), t(1800), NonZeroU32::new(900).unwrap());
        type Summary<'a> = (&'a str, i64, u32, u32, u32, u32, u32, i64, i64, Option<f64>, Option<f64>);
        let summary: Vec<Summary> = rows
            .iter()
            .map(|r| {
                (
                    r.queue_dn.as_str(),
                    r.interval_start.timestamp(),
                    r.offered,
                    r.answered,
                    r.abandoned,
                    r.overflowed,
                    r.answered_within_sla,
                    r.wait_total_ms,
                    r.wait_max_ms,
                    r.answer_wait_avg_secs,
                    r.talk_avg_secs,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("800", 0, 2, 1, 1, 0, 1, 40_000, 30_000, Some(10.0), Some(60.0)),
                ("800", 900, 1, 1, 0, 0, 0, 40_000, 40_000, Some(40.0), Some(100.0)),
                ("801", 0, 1, 0, 0, 1, 0, 300_000, 300_000, None, None),
                ("801", 900, 0, 0, 0, 0, 0, 0, 0, None, None),
            ]
        );
    }

    #[test]
    fn intervals_are_aligned_and_cover_partial_ends() {
        let rows = interval_truths(&[], &["800"], t(100), t(1000), NonZeroU32::new(900).unwrap());
        let bounds: Vec<(i64, i64)> =
            rows.iter().map(|r| (r.interval_start.timestamp(), r.interval_end.timestamp())).collect();
        assert_eq!(bounds, vec![(0, 900), (900, 1800)]);
        assert!(interval_truths(&[], &["800"], t(100), t(100), NonZeroU32::new(900).unwrap()).is_empty());
    }
}
