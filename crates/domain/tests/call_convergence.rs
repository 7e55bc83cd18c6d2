//! Property tests of the call lifecycle machine: whatever order the observations of a call
//! arrive in, and however often each arrives, the state (and so the record) is the same; once
//! 3CX's history is in, the record is the call's true record.

mod common;

use common::*;
use lineup_domain::call::{fold, CallRecord, CallState, Observation, Phase};
use proptest::prelude::*;
use proptest::sample::Index;

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (1i64..60_000).prop_map(Step::Wait),
        (0usize..AGENTS.len(), 1i64..20_000).prop_map(|(agent, ms)| Step::Ring { agent, ms }),
    ]
}

fn end() -> impl Strategy<Value = End> {
    let agent = 0usize..AGENTS.len();
    prop_oneof![
        (agent.clone(), 1i64..20_000, 1i64..600_000, proptest::option::of((agent.clone(), 1i64..300_000)))
            .prop_map(|(agent, ring_ms, talk_ms, transfer)| End::Answered { agent, ring_ms, talk_ms, transfer }),
        (1i64..120_000).prop_map(|ms| End::AbandonWaiting { ms }),
        (agent, 1i64..20_000).prop_map(|(agent, ms)| End::AbandonRinging { agent, ms }),
        (1i64..300_000, 1i64..60_000).prop_map(|(wait_ms, message_ms)| End::Overflow { wait_ms, message_ms }),
        (1i64..120_000).prop_map(|ms| End::Dropped { ms }),
    ]
}

fn script() -> impl Strategy<Value = Script> {
    (1i32..100_000, 0i64..3_600_000, proptest::collection::vec(step(), 0..4), end())
        .prop_map(|(call_id, arrive_ms, steps, end)| Script { call_id, arrive_ms, steps, end })
}

/// Poll instants every `interval_ms` from before the call until after it, some skipped (an
/// outage, a failed poll), and always one after the call ended (the poller keeps polling).
fn polls(played: &Played, interval_ms: i64, skipped: &[bool]) -> Vec<i64> {
    let start = played.script.arrive_ms - interval_ms / 2;
    let mut out = Vec::new();
    let mut t = start;
    let mut i = 0;
    while t <= played.ended_ms + interval_ms {
        if !skipped.get(i).copied().unwrap_or(false) {
            out.push(t);
        }
        t += interval_ms;
        i += 1;
    }
    out.push(t);
    out
}

/// Every observation of the call: the poller's, the history reconciler's and the call log's.
fn all_observations(played: &Played, interval_ms: i64, skipped: &[bool]) -> Vec<Observation> {
    let mut all = played.poller_observations(&polls(played, interval_ms, skipped));
    all.extend(played.history_observations());
    all.extend(played.call_log_observations());
    all
}

/// `items` shuffled by the indices, with the elements at `repeats` appended again.
fn shuffled_with_repeats<T: Clone>(items: &[T], order: &[Index], repeats: &[Index]) -> Vec<T> {
    let mut pool: Vec<T> = items.to_vec();
    let mut out = Vec::with_capacity(items.len() + repeats.len());
    for ix in order {
        if pool.is_empty() {
            break;
        }
        out.push(pool.remove(ix.index(pool.len())));
    }
    out.append(&mut pool);
    if !items.is_empty() {
        for ix in repeats {
            out.insert(ix.index(out.len() + 1), items[ix.index(items.len())].clone());
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random permutations with random duplicates of a call's observations fold to one state,
    /// whose record is the call's true record.
    #[test]
    fn any_order_and_any_repeats_give_the_true_record(
        script in script(),
        interval_ms in 250i64..5_000,
        skipped in proptest::collection::vec(any::<bool>(), 0..64),
        order in proptest::collection::vec(any::<Index>(), 0..200),
        repeats in proptest::collection::vec(any::<Index>(), 0..40),
    ) {
        let played = script.play();
        let observations = all_observations(&played, interval_ms, &skipped);
        let in_order = fold(played.truth.key, &observations);
        let mixed = shuffled_with_repeats(&observations, &order, &repeats);
        let out_of_order = fold(played.truth.key, &mixed);
        prop_assert_eq!(&out_of_order, &in_order);
        prop_assert_eq!(out_of_order.record(), played.truth.clone());
    }

    /// Without history, the poller's observations alone still converge: every order and every
    /// number of repeats gives the same state.
    #[test]
    fn poller_observations_converge_in_any_order(
        script in script(),
        interval_ms in 250i64..5_000,
        skipped in proptest::collection::vec(any::<bool>(), 0..64),
        order in proptest::collection::vec(any::<Index>(), 0..200),
        repeats in proptest::collection::vec(any::<Index>(), 0..40),
    ) {
        let played = script.play();
        let observations = played.poller_observations(&polls(&played, interval_ms, &skipped));
        let in_order = fold(played.truth.key, &observations);
        let mixed = fold(played.truth.key, &shuffled_with_repeats(&observations, &order, &repeats));
        prop_assert_eq!(&mixed, &in_order);
        let record = mixed.record();
        prop_assert!(!record.reconciled);
        if !observations.is_empty() {
            // The poller saw the call end (it polls past its end), so the item is settled.
            prop_assert!(record.phase.is_terminal() || record.queue_dn.is_none(), "{record:?}");
        }
    }

    /// Merging is a join: splitting the observations in two, folding each part and merging the
    /// states gives the state of folding them all (what two workers applying halves would reach).
    #[test]
    fn merging_partial_states_equals_folding_everything(
        script in script(),
        interval_ms in 250i64..5_000,
        split in proptest::collection::vec(any::<bool>(), 0..256),
    ) {
        let played = script.play();
        let observations = all_observations(&played, interval_ms, &[]);
        let (mut left, mut right) = (Vec::new(), Vec::new());
        for (i, o) in observations.iter().enumerate() {
            if split.get(i).copied().unwrap_or(false) { left.push(o.clone()) } else { right.push(o.clone()) }
        }
        let mut merged: CallState = fold(played.truth.key, &left);
        merged.merge(&fold(played.truth.key, &right));
        prop_assert_eq!(merged, fold(played.truth.key, &observations));
    }

    /// History alone (the poller never saw the call: shorter than an interval, or an outage)
    /// gives the true record too.
    #[test]
    fn history_alone_gives_the_true_record(script in script(), history_only in any::<bool>()) {
        let played = script.play();
        let observations = if history_only { played.history_observations() } else { played.call_log_observations() };
        let record = fold(played.truth.key, &observations).record();
        // Only `ReportCallLogData` rows carry 3CX's main call history id.
        let history_id = if history_only { None } else { played.truth.history_id.clone() };
        prop_assert_eq!(&record, &CallRecord { history_id, ..played.truth.clone() });
        prop_assert!(matches!(record.phase, Phase::Completed | Phase::Abandoned));
    }
}
