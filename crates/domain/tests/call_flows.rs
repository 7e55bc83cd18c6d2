//! The call lifecycle machine on the normal flows: observations in, record out, as data.

mod common;

use common::*;
use lineup_domain::call::{fold, CallOutcome, CallRecord, Observation, Phase, ReconciledCall};

/// The parts of a record a flow decides, times in seconds after 09:00.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    phase: Phase,
    outcome: CallOutcome,
    agent: Option<String>,
    entered: Option<i64>,
    answered: Option<i64>,
    left: Option<i64>,
    ended: Option<i64>,
    wait_ms: Option<i64>,
    talk_ms: Option<i64>,
    reconciled: bool,
}

fn secs(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<i64> {
    t.map(|t| (t - at(0)).num_seconds())
}

fn seen(r: &CallRecord) -> Seen {
    Seen {
        phase: r.phase,
        outcome: r.outcome,
        agent: r.agent_dn.clone(),
        entered: secs(r.entered_at),
        answered: secs(r.answered_at),
        left: secs(r.left_queue_at),
        ended: secs(r.ended_at),
        wait_ms: r.wait_ms,
        talk_ms: r.talk_ms,
        reconciled: r.reconciled,
    }
}

#[allow(clippy::too_many_arguments)]
fn expect(
    phase: Phase,
    outcome: CallOutcome,
    agent: Option<&str>,
    entered: Option<i64>,
    answered: Option<i64>,
    left: Option<i64>,
    ended: Option<i64>,
    reconciled: bool,
) -> Seen {
    let settled = outcome.is_settled();
    Seen {
        phase,
        outcome,
        agent: agent.map(str::to_string),
        entered,
        answered,
        left,
        ended,
        wait_ms: entered.zip(left).map(|(e, l)| (l - e) * 1000),
        talk_ms: match outcome {
            CallOutcome::Answered => answered.zip(ended).map(|(a, e)| (e - a) * 1000),
            _ if settled => Some(0),
            _ => None,
        },
        reconciled,
    }
}

fn history(facts: ReconciledCall) -> Observation {
    reconciled(100, facts)
}

#[test]
fn flows_fold_to_the_expected_record() {
    use CallOutcome as O;
    use Phase as P;
    let (a, b) = (AGENTS[0], AGENTS[1]);
    let cases: Vec<(&str, Vec<Observation>, Seen)> = vec![
        (
            "waiting in the queue",
            vec![appeared(2, QUEUE), entered(0, QUEUE)],
            expect(P::Waiting, O::InProgress, None, Some(0), None, None, None, false),
        ),
        (
            "ringing an agent",
            vec![appeared(2, QUEUE), entered(0, QUEUE), ringing(10, a)],
            expect(P::Ringing, O::InProgress, Some(a), Some(0), None, None, None, false),
        ),
        (
            "answered and talking",
            vec![entered(0, QUEUE), ringing(10, a), answered(15, a)],
            expect(P::Talking, O::Answered, Some(a), Some(0), Some(15), Some(15), None, false),
        ),
        (
            "answered and ended",
            vec![appeared(2, QUEUE), entered(0, QUEUE), ringing(10, a), answered(15, a), ended(75)],
            expect(P::Completed, O::Answered, Some(a), Some(0), Some(15), Some(15), Some(75), false),
        ),
        (
            "abandoned while waiting",
            vec![appeared(2, QUEUE), entered(0, QUEUE), ended(30)],
            expect(P::Abandoned, O::Abandoned, None, Some(0), None, Some(30), Some(30), false),
        ),
        (
            "abandoned while ringing",
            vec![entered(0, QUEUE), ringing(10, a), ended(18)],
            expect(P::Abandoned, O::Abandoned, None, Some(0), None, Some(18), Some(18), false),
        ),
        (
            "back in the queue after no answer",
            vec![entered(0, QUEUE), ringing(5, a), entered(20, QUEUE)],
            expect(P::Waiting, O::InProgress, None, Some(0), None, None, None, false),
        ),
        (
            "requeued, then ringing another agent",
            vec![entered(0, QUEUE), ringing(5, a), entered(20, QUEUE), ringing(25, b)],
            expect(P::Ringing, O::InProgress, Some(b), Some(0), None, None, None, false),
        ),
        (
            "requeued, then answered by another agent",
            vec![entered(0, QUEUE), ringing(5, a), entered(20, QUEUE), ringing(25, b), answered(28, b), ended(90)],
            expect(P::Completed, O::Answered, Some(b), Some(0), Some(28), Some(28), Some(90), false),
        ),
        (
            "transferred to a colleague after the answer keeps the first agent",
            vec![entered(0, QUEUE), answered(15, a), transferred(60, b), answered(60, b), ended(120)],
            expect(P::Completed, O::Answered, Some(a), Some(0), Some(15), Some(15), Some(120), false),
        ),
        (
            "overflowed to voicemail, message still running",
            vec![entered(0, QUEUE), transferred(60, VOICEMAIL)],
            expect(P::Abandoned, O::Overflowed, None, Some(0), None, Some(60), None, false),
        ),
        (
            "overflowed to voicemail and ended",
            vec![entered(0, QUEUE), transferred(60, VOICEMAIL), ended(90)],
            expect(P::Abandoned, O::Overflowed, None, Some(0), None, Some(60), Some(90), false),
        ),
        (
            "moved on to another queue counts as overflowed",
            vec![entered(0, QUEUE), transferred(40, OTHER_QUEUE)],
            expect(P::Abandoned, O::Overflowed, None, Some(0), None, Some(40), None, false),
        ),
        (
            "dropped: the poller sees an abandon, history says dropped",
            vec![
                entered(0, QUEUE),
                ended(21),
                history(ReconciledCall {
                    outcome: Some(O::Dropped),
                    left_queue_at: Some(at(20)),
                    ended_at: Some(at(20)),
                    ..ReconciledCall::default()
                }),
            ],
            expect(P::Abandoned, O::Dropped, None, Some(0), None, Some(20), Some(20), true),
        ),
        (
            "history corrects a missed answer",
            vec![
                entered(0, QUEUE),
                ended(40),
                history(ReconciledCall {
                    queue_dn: Some(QUEUE.into()),
                    entered_at: Some(at(1)),
                    agent_dn: Some(a.into()),
                    answered_at: Some(at(3)),
                    ended_at: Some(at(38)),
                    outcome: Some(O::Answered),
                    ..ReconciledCall::default()
                }),
            ],
            expect(P::Completed, O::Answered, Some(a), Some(1), Some(3), Some(3), Some(38), true),
        ),
        (
            "history's abandon overrides an inferred answer",
            vec![
                entered(0, QUEUE),
                answered(15, a),
                history(ReconciledCall {
                    outcome: Some(O::Abandoned),
                    left_queue_at: Some(at(14)),
                    ended_at: Some(at(14)),
                    ..ReconciledCall::default()
                }),
            ],
            expect(P::Abandoned, O::Abandoned, None, Some(0), None, Some(14), Some(14), true),
        ),
        (
            "history's answer without an end keeps the poller's end",
            vec![
                entered(0, QUEUE),
                answered(15, a),
                ended(70),
                history(ReconciledCall {
                    answered_at: Some(at(14)),
                    outcome: Some(O::Answered),
                    ..ReconciledCall::default()
                }),
            ],
            expect(P::Completed, O::Answered, Some(a), Some(0), Some(14), Some(14), Some(70), true),
        ),
        (
            "a call that reappears after vanishing is live again",
            vec![appeared(1, QUEUE), entered(0, QUEUE), ended(10), appeared(12, QUEUE)],
            expect(P::Waiting, O::InProgress, None, Some(0), None, None, None, false),
        ),
        (
            "and ends when it vanishes for good",
            vec![appeared(1, QUEUE), entered(0, QUEUE), ended(10), appeared(12, QUEUE), ended(20)],
            expect(P::Abandoned, O::Abandoned, None, Some(0), None, Some(20), Some(20), false),
        ),
        (
            "first seen ringing: no queue known yet",
            vec![appeared(3, a), ringing(2, a)],
            expect(P::Ringing, O::InProgress, Some(a), None, None, None, None, false),
        ),
    ];
    for (name, observations, expected) in cases {
        let record = fold(key(), &observations).record();
        assert_eq!(seen(&record), expected, "{name}");
    }
}

#[test]
fn the_record_carries_caller_queue_and_history_id() {
    let observations = [
        appeared(2, QUEUE),
        entered(0, QUEUE),
        reconciled(0, ReconciledCall { history_id: Some("h-1".into()), ..ReconciledCall::default() }),
    ];
    let record = fold(key(), &observations).record();
    assert_eq!(record.key, key());
    assert_eq!(record.caller.as_deref(), Some(CALLER));
    assert_eq!(record.queue_dn.as_deref(), Some(QUEUE));
    assert_eq!(record.history_id.as_deref(), Some("h-1"));
    assert!(!record.reconciled, "a history id alone does not settle the call");
}

#[test]
fn history_caller_and_queue_override_the_poller() {
    let observations = [
        appeared(2, "900"),
        entered(0, OTHER_QUEUE),
        reconciled(
            5,
            ReconciledCall {
                caller: Some("+111".into()),
                queue_dn: Some(QUEUE.into()),
                entered_at: Some(at(1)),
                ..ReconciledCall::default()
            },
        ),
    ];
    let record = fold(key(), &observations).record();
    assert_eq!((record.caller.as_deref(), record.queue_dn.as_deref()), (Some("+111"), Some(QUEUE)));
    assert_eq!(record.entered_at, Some(at(1)));
}

#[test]
fn observations_of_another_call_are_ignored() {
    let mut other = ended(5);
    other.call = key_of(8);
    let state = fold(key(), &[entered(0, QUEUE), other]);
    assert_eq!(state.record().phase, Phase::Waiting);
    assert_eq!(state, fold(key(), &[entered(0, QUEUE)]));
}

#[test]
fn an_in_progress_outcome_from_history_is_no_information() {
    let facts = ReconciledCall { outcome: Some(CallOutcome::InProgress), ..ReconciledCall::default() };
    let state = fold(key(), &[entered(0, QUEUE), reconciled(3, facts)]);
    assert_eq!(state, fold(key(), &[entered(0, QUEUE)]));
}

#[test]
fn states_survive_a_json_round_trip() {
    let state = fold(key(), &[appeared(2, QUEUE), entered(0, QUEUE), ringing(10, AGENTS[0]), ended(12)]);
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<lineup_domain::call::CallState>(&json).unwrap(), state);
    let observation = ringing(10, AGENTS[0]);
    let json = serde_json::to_string(&observation).unwrap();
    assert_eq!(serde_json::from_str::<Observation>(&json).unwrap(), observation);
}
