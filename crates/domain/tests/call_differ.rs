//! The `ActiveCalls` differ: pairs of snapshots in, observations out, as data.

mod common;

use common::*;
use lineup_domain::call::{callee_dn, diff_active_calls, ActiveCallSnapshot, Observation, ObservationKind, Source};

/// A row of call 7: `(callee, status, last change, established)` in seconds.
fn row(callee: &str, status: &str, changed: i64, established: i64) -> ActiveCallSnapshot {
    ActiveCallSnapshot {
        id: 7,
        caller: CALLER.into(),
        callee: callee.into(),
        status: status.into(),
        last_change_status: at(changed),
        established_at: at(established),
    }
}

fn diff(previous: &[ActiveCallSnapshot], current: &[ActiveCallSnapshot], now: i64) -> Vec<Observation> {
    diff_active_calls(connection(), previous, current, at(now), &queue_dns(), &agent_dns())
}

fn kinds(observations: &[Observation]) -> Vec<(i64, ObservationKind)> {
    observations.iter().map(|o| ((o.at - at(0)).num_seconds(), o.kind.clone())).collect()
}

fn appear(callee: &str) -> ObservationKind {
    ObservationKind::Appeared { caller: CALLER.into(), callee: callee.into() }
}

fn queue(dn: &str) -> ObservationKind {
    ObservationKind::EnteredQueue { queue_dn: dn.into() }
}

fn ring(dn: &str) -> ObservationKind {
    ObservationKind::Ringing { agent_dn: dn.into() }
}

fn answer(dn: &str) -> ObservationKind {
    ObservationKind::Answered { agent_dn: dn.into() }
}

fn transfer(dn: &str) -> ObservationKind {
    ObservationKind::Transferred { to_dn: dn.into() }
}

/// A case: its name, the previous and current snapshots, and the expected `(time, kind)`s.
type Case = (&'static str, Vec<ActiveCallSnapshot>, Vec<ActiveCallSnapshot>, Vec<(i64, ObservationKind)>);

#[test]
fn snapshot_pairs_give_the_expected_observations() {
    let waiting = row("800 Sales", "Routing", 0, 0);
    let (a, b) = (AGENTS[0], AGENTS[1]);
    let cases: Vec<Case> = vec![
        ("nothing, nothing", vec![], vec![], vec![]),
        ("a new call in the queue", vec![], vec![waiting.clone()], vec![(9, appear(QUEUE)), (0, queue(QUEUE))]),
        (
            "a new call already requeued once",
            vec![],
            vec![row("800 Sales", "Routing", 6, 0)],
            vec![(9, appear(QUEUE)), (0, queue(QUEUE)), (6, queue(QUEUE))],
        ),
        ("an unchanged call", vec![waiting.clone()], vec![waiting.clone()], vec![]),
        ("starts ringing", vec![waiting.clone()], vec![row("101 Ann", "Ringing", 5, 0)], vec![(5, ring(a))]),
        (
            "rings the next agent",
            vec![row("101 Ann", "Ringing", 5, 0)],
            vec![row("102 Bob", "Ringing", 8, 0)],
            vec![(8, ring(b))],
        ),
        (
            "is answered",
            vec![row("101 Ann", "Ringing", 5, 0)],
            vec![row("101 Ann", "Talking", 8, 0)],
            vec![(8, answer(a))],
        ),
        (
            "status text is matched without case",
            vec![row("101 Ann", "Ringing", 5, 0)],
            vec![row("101 Ann", "TALKING", 8, 0)],
            vec![(8, answer(a))],
        ),
        (
            "goes back to the queue after no answer",
            vec![row("101 Ann", "Ringing", 5, 0)],
            vec![row("800 Sales", "Routing", 8, 0)],
            vec![(8, queue(QUEUE))],
        ),
        (
            "overflows to voicemail",
            vec![waiting.clone()],
            vec![row("899 Voicemail", "Talking", 8, 0)],
            vec![(8, transfer(VOICEMAIL))],
        ),
        (
            "moves on to another queue",
            vec![waiting.clone()],
            vec![row("801 Support", "Routing", 8, 0)],
            vec![(8, transfer(OTHER_QUEUE))],
        ),
        (
            "an agent hands over to a colleague",
            vec![row("101 Ann", "Talking", 5, 0)],
            vec![row("102 Bob", "Talking", 30, 0)],
            vec![(30, answer(b))],
        ),
        ("first seen talking", vec![], vec![row("101 Ann", "Talking", 4, 0)], vec![(9, appear(a)), (4, answer(a))]),
        ("first seen elsewhere", vec![], vec![row("500 Menu", "Talking", 4, 0)], vec![(9, appear("500"))]),
        ("gone", vec![waiting.clone()], vec![], vec![(9, ObservationKind::Ended)]),
    ];
    for (name, previous, current, expected) in cases {
        let observations = diff(&previous, &current, 9);
        assert_eq!(kinds(&observations), expected, "{name}");
        assert!(observations.iter().all(|o| o.source == Source::Poller && o.call == key()), "{name}");
    }
}

#[test]
fn several_calls_come_out_in_call_id_order_with_ended_calls_last() {
    let mut first = row("800 Sales", "Routing", 0, 0);
    first.id = 9;
    let mut second = row("800 Sales", "Routing", 0, 0);
    second.id = 3;
    let mut gone = row("800 Sales", "Routing", 0, 0);
    gone.id = 1;
    let ids: Vec<i32> = diff(&[gone], &[first, second], 9).iter().map(|o| o.call.call_id).collect();
    assert_eq!(ids, vec![3, 3, 9, 9, 1]);
}

#[test]
fn diffing_the_same_pair_again_gives_the_same_dedup_keys() {
    let previous = [row("800 Sales", "Routing", 0, 0)];
    let current = [row("101 Ann", "Ringing", 5, 0)];
    let keys = |obs: Vec<Observation>| obs.into_iter().map(|o| o.dedup_key).collect::<Vec<_>>();
    assert_eq!(keys(diff(&previous, &current, 9)), keys(diff(&previous, &current, 9)));
    // A restarted poller (no previous snapshot) re-reads an unchanged call under the same keys,
    // except for the new sign of life.
    let first = keys(diff(&[], &previous, 2));
    let again = keys(diff(&[], &previous, 4));
    assert_eq!(first[1..], again[1..]);
    assert_ne!(first[0], again[0]);
}

#[test]
fn callee_texts_resolve_to_known_dns() {
    let known = |dn: &str| ["800", "101"].contains(&dn);
    let cases = [
        ("800 Sales", "800"),
        ("800", "800"),
        ("Sales Queue (800)", "800"),
        ("  101 Ann Smith ", "101"),
        ("1234 Somebody", "1234"),
        ("", ""),
    ];
    for (text, dn) in cases {
        assert_eq!(callee_dn(text, known), dn, "{text:?}");
    }
}
