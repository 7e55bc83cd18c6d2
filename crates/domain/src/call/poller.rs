//! The `ActiveCalls` differ: two snapshots in, observations out.
//!
//! `Pbx.ActiveCall` names neither queue nor agent, so both are inferred from `Callee`: a queue's
//! DN while the call waits, an agent's extension while it rings or talks, anything else once it
//! went elsewhere (voicemail, an outside number). History corrects what this gets wrong.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CallKey, Observation, ObservationKind, Source};

/// One row of `GET /ActiveCalls` (`Pbx.ActiveCall`), the fields the differ needs. A worker
/// fills a missing time with the snapshot's `ServerNow`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveCallSnapshot {
    /// 3CX `Id`: the call id.
    pub id: i32,
    /// 3CX `Caller`.
    pub caller: String,
    /// 3CX `Callee`, e.g. `"800 Sales"`: DN and name.
    pub callee: String,
    /// 3CX `Status`: `Routing`, `Ringing`, `Talking`, ...
    pub status: String,
    /// 3CX `LastChangeStatus`.
    pub last_change_status: DateTime<Utc>,
    /// 3CX `EstablishedAt`.
    pub established_at: DateTime<Utc>,
}

/// The DN in a `Callee` text: the whole text, its first word or the number in its last
/// parentheses, whichever `is_known` accepts first; otherwise the first word.
pub fn callee_dn(callee: &str, is_known: impl Fn(&str) -> bool) -> String {
    let callee = callee.trim();
    let first_word = callee.split_whitespace().next().unwrap_or(callee);
    let in_parens = callee.rsplit_once('(').and_then(|(_, rest)| rest.split_once(')')).map(|(dn, _)| dn.trim());
    [Some(callee), Some(first_word), in_parens]
        .into_iter()
        .flatten()
        .find(|dn| is_known(dn))
        .unwrap_or(first_word)
        .to_string()
}

/// What the callee of a snapshot row is to Lineup.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Callee {
    Queue(String),
    Agent(String),
    Elsewhere(String),
}

fn classify(row: &ActiveCallSnapshot, queue_dns: &BTreeSet<String>, agent_dns: &BTreeSet<String>) -> Callee {
    let dn = callee_dn(&row.callee, |dn| queue_dns.contains(dn) || agent_dns.contains(dn));
    if queue_dns.contains(&dn) {
        Callee::Queue(dn)
    } else if agent_dns.contains(&dn) {
        Callee::Agent(dn)
    } else {
        Callee::Elsewhere(dn)
    }
}

fn is_talking(status: &str) -> bool {
    ["talking", "connected"].iter().any(|s| status.eq_ignore_ascii_case(s))
}

/// Observations that explain how `previous` became `current`, two consecutive `ActiveCalls`
/// snapshots of PBX `connection`, the second taken at PBX time `server_now`. Calls of `current`
/// first, then the ended ones, each group in call-id order:
/// - new in `current` (or back after vanishing): `Appeared` at `server_now`;
/// - callee, status or `LastChangeStatus` changed (or new): at `LastChangeStatus`,
///   `EnteredQueue` for a queue callee (a first sighting also adds one at `EstablishedAt`),
///   `Ringing` / `Answered` for an agent callee ringing / talking, `Transferred` when a call
///   that was with a queue or an agent now is with another queue or elsewhere;
/// - gone from `current`: `Ended` at `server_now` (provisional; history corrects the time).
///
/// Unchanged calls give nothing. Pure: diffing the same pair again gives the same observations.
pub fn diff_active_calls(
    connection: Uuid,
    previous: &[ActiveCallSnapshot],
    current: &[ActiveCallSnapshot],
    server_now: DateTime<Utc>,
    queue_dns: &BTreeSet<String>,
    agent_dns: &BTreeSet<String>,
) -> Vec<Observation> {
    let before: BTreeMap<i32, &ActiveCallSnapshot> = previous.iter().map(|c| (c.id, c)).collect();
    let now: BTreeMap<i32, &ActiveCallSnapshot> = current.iter().map(|c| (c.id, c)).collect();
    let mut out = Vec::new();
    for (&id, &row) in &now {
        let call = CallKey { connection, call_id: id };
        let observe = |at, kind| Observation::new(call, Source::Poller, at, kind);
        let prev = before.get(&id).copied();
        let callee = classify(row, queue_dns, agent_dns);
        if prev.is_none() {
            let appeared = ObservationKind::Appeared { caller: row.caller.clone(), callee: dn_of(&callee).to_string() };
            out.push(observe(server_now, appeared));
        }
        let changed = prev.is_none_or(|p| {
            (&p.callee, &p.status, p.last_change_status) != (&row.callee, &row.status, row.last_change_status)
        });
        if !changed {
            continue;
        }
        let was = prev.map(|p| classify(p, queue_dns, agent_dns));
        let at = row.last_change_status;
        match callee {
            Callee::Queue(queue_dn) => match was {
                Some(Callee::Queue(old)) if old != queue_dn => {
                    out.push(observe(at, ObservationKind::Transferred { to_dn: queue_dn }));
                }
                _ => {
                    if prev.is_none() {
                        let entered = ObservationKind::EnteredQueue { queue_dn: queue_dn.clone() };
                        out.push(observe(row.established_at, entered));
                    }
                    if prev.is_some() || at != row.established_at {
                        out.push(observe(at, ObservationKind::EnteredQueue { queue_dn }));
                    }
                }
            },
            Callee::Agent(agent_dn) if is_talking(&row.status) => {
                out.push(observe(at, ObservationKind::Answered { agent_dn }));
            }
            Callee::Agent(agent_dn) => out.push(observe(at, ObservationKind::Ringing { agent_dn })),
            Callee::Elsewhere(to_dn) => {
                if matches!(&was, Some(Callee::Queue(old) | Callee::Agent(old)) if *old != to_dn) {
                    out.push(observe(at, ObservationKind::Transferred { to_dn }));
                }
            }
        }
    }
    for &id in before.keys().filter(|id| !now.contains_key(id)) {
        let call = CallKey { connection, call_id: id };
        out.push(Observation::new(call, Source::Poller, server_now, ObservationKind::Ended));
    }
    out
}

fn dn_of(callee: &Callee) -> &str {
    match callee {
        Callee::Queue(dn) | Callee::Agent(dn) | Callee::Elsewhere(dn) => dn,
    }
}
