//! Reports with one row per queue, or per queue and agent.
//!
//! In rows that carry both `Dn` (or `QueueDn`) and `QueueDnNumber`, the first is the queue's
//! display name and the second its number; where a row has `QueueDn` and `QueueDisplayName`,
//! `QueueDn` is the number.

use lineup_xapi::generated::types;

use super::{average_ms, count, Selection};
use crate::model::{CallOutcome, CallTruth, QueueConfig};
use crate::server::wire::iso_duration;

/// Offered, answered, total wait and total talk time of some calls.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    offered: i64,
    answered: i64,
    wait_ms: i64,
    talk_ms: i64,
}

fn totals<'a>(calls: impl Iterator<Item = &'a CallTruth>) -> Totals {
    calls.fold(Totals::default(), |mut t, call| {
        t.offered += 1;
        t.wait_ms += call.wait_ms;
        if call.outcome == CallOutcome::Answered {
            t.answered += 1;
            t.talk_ms += call.talk_ms;
        }
        t
    })
}

fn int32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// `Pbx.QueuePerformanceOverview`: per queue and member agent. `QueueReceivedCount` and
/// `QueueAnsweredCount` are the queue's; `ExtensionAnsweredCount`, `ExtensionDroppedCount`
/// (rung but not picked up) and `TalkTime` the agent's share; `SortOrder` is the member's
/// position. A queue without members has one row without extension fields.
pub(super) fn performance_overview(sel: &Selection<'_>) -> Vec<types::QueuePerformanceOverview> {
    let mut rows = Vec::new();
    for queue in &sel.queues {
        let t = totals(sel.calls_of(queue));
        let base = types::QueuePerformanceOverview {
            queue_dn: Some(queue.dn.clone()),
            queue_display_name: Some(queue.name.clone()),
            queue_received_count: Some(t.offered),
            queue_answered_count: Some(t.answered),
            ..Default::default()
        };
        let members = sel.members(queue);
        if members.is_empty() {
            rows.push(base);
            continue;
        }
        let tallies = sel.agent_tallies(queue);
        for (position, agent) in members.iter().enumerate() {
            let tally = tallies.get(&agent.dn).copied().unwrap_or_default();
            rows.push(types::QueuePerformanceOverview {
                extension_dn: Some(agent.dn.clone()),
                extension_display_name: Some(agent.name.clone()),
                extension_answered_count: Some(tally.answered),
                extension_dropped_count: Some(tally.lost),
                talk_time: Some(iso_duration(tally.talk_ms)),
                sort_order: Some(int32(position)),
                ..base.clone()
            });
        }
    }
    rows
}

/// `Pbx.QueuePerformanceTotals`: per queue, received, answered (`ExtensionAnsweredCount`) and
/// not answered (`ExtensionDroppedCount`: abandoned, overflowed or dropped) calls.
pub(super) fn performance_totals(sel: &Selection<'_>) -> Vec<types::QueuePerformanceTotals> {
    sel.queues
        .iter()
        .map(|queue| {
            let t = totals(sel.calls_of(queue));
            types::QueuePerformanceTotals {
                queue_dn: Some(queue.dn.clone()),
                queue_display_name: Some(queue.name.clone()),
                queue_received_count: Some(t.offered),
                extension_answered_count: Some(t.answered),
                extension_dropped_count: Some(t.offered - t.answered),
            }
        })
        .collect()
}

/// `Pbx.AgentsInQueueStatistics`: per queue and member agent. `AnsweredPercent` is the agent's
/// share of the queue's answered calls; `AnsweredPerHourCount` its answers per logged-in hour in
/// the period; `LostCount` calls that rang the agent unanswered; ring times average over every
/// ring, talk times over answered calls.
pub(super) fn agents_in_queue(sel: &Selection<'_>) -> Vec<types::AgentsInQueueStatistics> {
    let mut rows = Vec::new();
    for queue in &sel.queues {
        let queue_answered = totals(sel.calls_of(queue)).answered;
        let tallies = sel.agent_tallies(queue);
        for agent in sel.members(queue) {
            let tally = tallies.get(&agent.dn).copied().unwrap_or_default();
            let logged_in_ms = sel.logged_in_ms(&agent.dn);
            let percent = if queue_answered == 0 { 0 } else { tally.answered * 100 / queue_answered };
            let per_hour = if logged_in_ms == 0 {
                0
            } else {
                (tally.answered as f64 * 3_600_000.0 / logged_in_ms as f64).round() as i64
            };
            rows.push(types::AgentsInQueueStatistics {
                queue: Some(queue.dn.clone()),
                queue_display_name: Some(queue.name.clone()),
                dn: Some(agent.dn.clone()),
                dn_display_name: Some(agent.name.clone()),
                answered_count: Some(tally.answered),
                answered_percent: Some(i32::try_from(percent).unwrap_or(100)),
                answered_per_hour_count: Some(per_hour),
                lost_count: Some(tally.lost),
                ring_time: Some(iso_duration(tally.ring_ms)),
                avg_ring_time: Some(iso_duration(average_ms(tally.ring_ms, tally.answered + tally.lost))),
                talk_time: Some(iso_duration(tally.talk_ms)),
                avg_talk_time: Some(iso_duration(average_ms(tally.talk_ms, tally.answered))),
                logged_in_time: Some(iso_duration(logged_in_ms)),
            });
        }
    }
    rows
}

/// `Pbx.DetailedQueueStatistics`: per queue, calls, answered calls, the waits (`RingTime`,
/// averaged over every call) and talk times (averaged over answered calls); no callbacks.
pub(super) fn detailed_statistics(sel: &Selection<'_>) -> Vec<types::DetailedQueueStatistics> {
    sel.queues
        .iter()
        .map(|queue| {
            let t = totals(sel.calls_of(queue));
            types::DetailedQueueStatistics {
                queue_dn: Some(queue.name.clone()),
                queue_dn_number: Some(queue.dn.clone()),
                calls_count: Some(t.offered),
                answered_count: Some(t.answered),
                callbacks_count: Some(0),
                ring_time: Some(iso_duration(t.wait_ms)),
                avg_ring_time: Some(iso_duration(average_ms(t.wait_ms, t.offered))),
                talk_time: Some(iso_duration(t.talk_ms)),
                avg_talk_time: Some(iso_duration(average_ms(t.talk_ms, t.answered))),
            }
        })
        .collect()
}

/// The calls of `queue` that waited longer than the threshold (the request's, else the
/// queue's SLA time), whatever their outcome.
pub(super) fn sla_breaches_of<'a>(
    sel: &'a Selection<'a>,
    queue: &'a QueueConfig,
) -> impl Iterator<Item = &'a CallTruth> {
    let threshold = sel.sla_threshold_ms(queue);
    sel.calls_of(queue).filter(move |call| call.wait_ms > threshold)
}

/// `Pbx.StatisticSla`: per queue, received calls and `BadSlaCallsCount`, the calls that waited
/// longer than the threshold.
pub(super) fn sla_statistics(sel: &Selection<'_>) -> Vec<types::StatisticSla> {
    sel.queues
        .iter()
        .map(|queue| types::StatisticSla {
            dn: Some(queue.name.clone()),
            queue_dn_number: Some(queue.dn.clone()),
            received_count: Some(count(sel.calls_of(queue).count())),
            bad_sla_calls_count: Some(count(sla_breaches_of(sel, queue).count())),
        })
        .collect()
}

/// `Pbx.TeamQueueGeneralStatistics`: per queue, its members now, received and answered calls
/// and talk times.
pub(super) fn team_general(sel: &Selection<'_>) -> Vec<types::TeamQueueGeneralStatistics> {
    sel.queues
        .iter()
        .map(|queue| {
            let t = totals(sel.calls_of(queue));
            types::TeamQueueGeneralStatistics {
                dn: Some(queue.name.clone()),
                queue_dn_number: Some(queue.dn.clone()),
                agents_in_queue_count: Some(int32(sel.members(queue).len())),
                received_count: Some(t.offered),
                answered_count: Some(t.answered),
                total_talk_time: Some(iso_duration(t.talk_ms)),
                avg_talk_time: Some(iso_duration(average_ms(t.talk_ms, t.answered))),
            }
        })
        .collect()
}

/// `Pbx.QueueCallbacks`: per queue, received calls; the simulator offers no callbacks.
pub(super) fn callbacks(sel: &Selection<'_>) -> Vec<types::QueueCallbacks> {
    sel.queues
        .iter()
        .map(|queue| types::QueueCallbacks {
            dn: Some(queue.name.clone()),
            queue_dn_number: Some(queue.dn.clone()),
            received_count: Some(count(sel.calls_of(queue).count())),
            callbacks_count: Some(0),
            fail_callbacks_count: Some(0),
        })
        .collect()
}
