//! The queue report functions (`/Report.../Pbx.Get...Data(...)`), computed from the finished
//! calls the history shows (the same lag applies) in the requested period and queues.
//!
//! Shared meanings (3CX's document names the fields but does not define them):
//! - a call belongs to the period of its arrival in the queue (as the ground truth counts it);
//! - received/offered: every call that arrived; answered: an agent picked up; the wait is the
//!   time from arrival to leaving the queue (pick-up, abandon, overflow or drop);
//! - an agent's answered and lost (rung, not picked up) counts and ring and talk times come from
//!   the call's segments to that agent;
//! - the threshold (`waitInterval`) is a TimeSpan; SLA reports default to each queue's own SLA
//!   time, list reports to zero. Per-report details are on the functions in `tables` and `lists`.

mod lists;
mod tables;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::Value;

use super::literal::parse_duration;
use super::route::{ReportKind, ReportParams, ReportWindow};
use crate::model::{
    AgentSnapshot, AgentStatus, AgentStatusChange, CallRecord, CallTruth, DnKind, QueueConfig, SimConfig,
};

/// What a report reads: the visible finished calls and the agents.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// The configuration (queues, their SLA times and members).
    pub config: &'a SimConfig,
    /// Ground truth of the finished calls the history shows.
    pub truths: &'a [CallTruth],
    /// The records of the same calls.
    pub records: &'a [CallRecord],
    /// Every agent now.
    pub agents: &'a [AgentSnapshot],
    /// Agent status changes, for logged-in time.
    pub status_log: &'a [AgentStatusChange],
    /// The simulated instant of the request.
    pub now: DateTime<Utc>,
}

/// A report request the simulator refuses (400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportError(pub String);

/// The rows of report `kind` for `params`, as JSON objects in 3CX's shape.
pub fn report(kind: ReportKind, params: &ReportParams, input: &ReportInput<'_>) -> Result<Vec<Value>, ReportError> {
    let selection = Selection::new(params, input)?;
    let rows = match kind {
        ReportKind::PerformanceOverview => json_rows(tables::performance_overview(&selection)),
        ReportKind::PerformanceTotals => json_rows(tables::performance_totals(&selection)),
        ReportKind::AbandonedCalls => json_rows(lists::abandoned_calls(&selection)),
        ReportKind::AgentsInQueue => json_rows(tables::agents_in_queue(&selection)),
        ReportKind::AverageWaitingTime => json_rows(lists::average_waiting_time(&selection)),
        ReportKind::DetailedStatistics => json_rows(tables::detailed_statistics(&selection)),
        ReportKind::AnsweredUnanswered => json_rows(lists::answered_unanswered(&selection)),
        ReportKind::AnsweredByWaitTime => json_rows(lists::answered_by_wait_time(&selection)),
        ReportKind::SlaStatistics => json_rows(tables::sla_statistics(&selection)),
        ReportKind::SlaBreaches => json_rows(lists::sla_breaches(&selection)),
        ReportKind::TeamGeneral => json_rows(tables::team_general(&selection)),
        ReportKind::Callbacks => json_rows(tables::callbacks(&selection)),
        ReportKind::FailedCallbacks => Vec::new(),
    };
    Ok(rows)
}

/// The schema name of report `kind`'s rows (for `@odata.context`).
pub fn row_type(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::PerformanceOverview => "Pbx.QueuePerformanceOverview",
        ReportKind::PerformanceTotals => "Pbx.QueuePerformanceTotals",
        ReportKind::AbandonedCalls => "Pbx.AbandonedQueueCalls",
        ReportKind::AgentsInQueue => "Pbx.AgentsInQueueStatistics",
        ReportKind::AverageWaitingTime | ReportKind::AnsweredUnanswered => "Pbx.TimeReportData",
        ReportKind::DetailedStatistics => "Pbx.DetailedQueueStatistics",
        ReportKind::AnsweredByWaitTime => "Pbx.QueueAnsweredCallsByWaitTime",
        ReportKind::SlaStatistics => "Pbx.StatisticSla",
        ReportKind::SlaBreaches => "Pbx.BreachesSla",
        ReportKind::TeamGeneral => "Pbx.TeamQueueGeneralStatistics",
        ReportKind::Callbacks => "Pbx.QueueCallbacks",
        ReportKind::FailedCallbacks => "Pbx.QueueFailedCallbacks",
    }
}

fn json_rows<T: Serialize>(rows: Vec<T>) -> Vec<Value> {
    rows.iter().map(|row| serde_json::to_value(row).unwrap_or(Value::Null)).collect()
}

/// One bucket of a chart: calls that arrived in `[start, end)`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// A report's queues, time window, threshold and the calls that fall in them.
struct Selection<'a> {
    input: &'a ReportInput<'a>,
    queues: Vec<&'a QueueConfig>,
    /// The whole window (for charts: from the first bucket's start to the last one's end).
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    buckets: Vec<Bucket>,
    threshold: Option<TimeDelta>,
    /// The calls of the selected queues that arrived in the window, in the order they ended.
    calls: Vec<&'a CallTruth>,
    records: HashMap<i32, &'a CallRecord>,
}

impl<'a> Selection<'a> {
    fn new(params: &ReportParams, input: &'a ReportInput<'a>) -> Result<Selection<'a>, ReportError> {
        let queues: Vec<&QueueConfig> = input
            .config
            .queues
            .iter()
            .filter(|q| params.queues.as_ref().is_none_or(|wanted| wanted.contains(&q.dn)))
            .collect();
        let threshold = match params.threshold.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(text) => {
                Some(parse_duration(text).ok_or_else(|| ReportError(format!("'{text}' is not a duration (0:00:20)")))?)
            }
        };
        let (from, to, buckets) = match &params.window {
            ReportWindow::Period { from, to } => (*from, *to, vec![Bucket { start: *from, end: *to }]),
            ReportWindow::Chart { date, by, time_zone } => {
                let buckets = lists::chart_buckets(*date, by.as_deref(), time_zone.as_deref())?;
                let from = buckets.first().map_or(*date, |b| b.start);
                let to = buckets.last().map_or(*date, |b| b.end);
                (from, to, buckets)
            }
        };
        if to < from {
            return Err(ReportError("the period ends before it starts".into()));
        }
        let calls: Vec<&CallTruth> = input
            .truths
            .iter()
            .filter(|t| t.arrived_at >= from && t.arrived_at < to && queues.iter().any(|q| q.dn == t.queue_dn))
            .collect();
        let wanted: HashSet<i32> = calls.iter().map(|t| t.call_id).collect();
        let records = input.records.iter().filter(|r| wanted.contains(&r.call_id)).map(|r| (r.call_id, r)).collect();
        Ok(Selection { input, queues, from, to, buckets, threshold, calls, records })
    }

    /// The calls of `queue`.
    fn calls_of<'s>(&'s self, queue: &'s QueueConfig) -> impl Iterator<Item = &'a CallTruth> + 's {
        self.calls.iter().copied().filter(move |t| t.queue_dn == queue.dn)
    }

    /// The wait threshold of `queue`: the request's, else the queue's SLA time.
    fn sla_threshold_ms(&self, queue: &QueueConfig) -> i64 {
        self.threshold.map_or(i64::from(queue.sla_secs) * 1000, |t| t.num_milliseconds())
    }

    /// The request's threshold for list reports (zero when not given).
    fn list_threshold_ms(&self) -> i64 {
        self.threshold.map_or(0, |t| t.num_milliseconds())
    }

    /// The queue's members now (in member order), as agent snapshots.
    fn members(&self, queue: &QueueConfig) -> Vec<&'a AgentSnapshot> {
        self.input.agents.iter().filter(|a| a.queues.contains(&queue.dn)).collect()
    }

    /// The display name of an agent DN.
    fn agent_name(&self, dn: &str) -> String {
        self.input.agents.iter().find(|a| a.dn == dn).map_or_else(|| dn.to_string(), |a| a.name.clone())
    }

    /// Per agent DN: rings, answers and times of the queue's calls in the window.
    fn agent_tallies(&self, queue: &QueueConfig) -> BTreeMap<String, AgentTally> {
        let mut tallies: BTreeMap<String, AgentTally> = BTreeMap::new();
        for call in self.calls_of(queue) {
            let Some(record) = self.records.get(&call.call_id) else { continue };
            for s in record.segments.iter().filter(|s| s.destination.kind == DnKind::Extension) {
                let tally = tallies.entry(s.destination.dn.clone()).or_default();
                tally.ring_ms += s.ringing_ms;
                if s.answered {
                    tally.answered += 1;
                    tally.talk_ms += s.talking_ms;
                } else {
                    tally.lost += 1;
                }
            }
        }
        tallies
    }

    /// The last agent a call rang, if any.
    fn last_agent_rung(&self, call_id: i32) -> Option<(String, String)> {
        let record = self.records.get(&call_id)?;
        let s = record.segments.iter().rev().find(|s| s.destination.kind == DnKind::Extension)?;
        Some((s.destination.dn.clone(), s.destination.name.clone()))
    }

    /// Whether the agent `dn` is logged in now.
    fn is_logged_in(&self, dn: &str) -> bool {
        self.input.agents.iter().any(|a| a.dn == dn && a.status.is_logged_in())
    }

    /// How long agent `dn` was logged in within the window (up to now), ms.
    fn logged_in_ms(&self, dn: &str) -> i64 {
        let end = self.to.min(self.input.now);
        let mut total = 0;
        let mut current: Option<(DateTime<Utc>, AgentStatus)> = None;
        let changes = self.input.status_log.iter().filter(|c| c.agent_dn == dn);
        for change in changes.map(|c| (c.at, c.status)).chain(std::iter::once((end, AgentStatus::LoggedOut))) {
            if let Some((since, status)) = current {
                let (a, b) = (since.max(self.from), change.0.min(end));
                if status.is_logged_in() && b > a {
                    total += (b - a).num_milliseconds();
                }
            }
            current = Some(change);
        }
        total
    }
}

/// One agent's share of a queue's calls.
#[derive(Debug, Clone, Copy, Default)]
struct AgentTally {
    answered: i64,
    lost: i64,
    ring_ms: i64,
    talk_ms: i64,
}

/// `total / n` rounded to a millisecond, 0 when `n` is 0.
fn average_ms(total: i64, n: i64) -> i64 {
    if n == 0 {
        0
    } else {
        (total as f64 / n as f64).round() as i64
    }
}

/// A count as a report's `int64`.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
