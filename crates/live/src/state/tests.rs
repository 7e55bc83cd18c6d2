//! Behaviour of the pure state and its rendering, with explicit times.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use lineup_domain::call::{CallKey, CallOutcome, CallRecord, Phase};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::channel::ChannelId;
use crate::config::LiveConfig;
use crate::input::{AgentPresence, CallUpdate, ItemInfo, LiveInput, QueueInfo};
use crate::state::{AgentState, AgentStatus, TenantLive};

const TENANT: Uuid = Uuid::from_u128(0xAA);
const QUEUE: Uuid = Uuid::from_u128(0x51);
const OTHER_QUEUE: Uuid = Uuid::from_u128(0x52);
const CONNECTION: Uuid = Uuid::from_u128(0xC0);

/// 2025-03-03 09:00:00 UTC plus `seconds`.
fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 3, 9, 0, 0).unwrap() + chrono::TimeDelta::seconds(seconds)
}

fn key(call_id: i32) -> CallKey {
    CallKey { connection: CONNECTION, call_id }
}

/// A call that entered the queue at `at(entered)` and waits.
fn waiting(call_id: i32, entered: i64) -> CallRecord {
    CallRecord {
        key: key(call_id),
        history_id: None,
        caller: Some(format!("+4420{call_id:04}")),
        queue_dn: Some("800".into()),
        agent_dn: None,
        entered_at: Some(at(entered)),
        answered_at: None,
        left_queue_at: None,
        ended_at: None,
        wait_ms: None,
        talk_ms: None,
        outcome: CallOutcome::InProgress,
        phase: Phase::Waiting,
        reconciled: false,
    }
}

fn ringing(call_id: i32, entered: i64, dn: &str) -> CallRecord {
    CallRecord { agent_dn: Some(dn.into()), phase: Phase::Ringing, ..waiting(call_id, entered) }
}

fn talking(call_id: i32, entered: i64, dn: &str, answered: i64) -> CallRecord {
    CallRecord {
        agent_dn: Some(dn.into()),
        answered_at: Some(at(answered)),
        left_queue_at: Some(at(answered)),
        wait_ms: Some((answered - entered) * 1000),
        outcome: CallOutcome::Answered,
        phase: Phase::Talking,
        ..waiting(call_id, entered)
    }
}

fn completed(call_id: i32, entered: i64, dn: &str, answered: i64, ended: i64) -> CallRecord {
    CallRecord {
        ended_at: Some(at(ended)),
        talk_ms: Some((ended - answered) * 1000),
        phase: Phase::Completed,
        ..talking(call_id, entered, dn, answered)
    }
}

/// A call that left the queue unanswered at `at(left)` with `outcome`.
fn unanswered(call_id: i32, entered: i64, left: i64, outcome: CallOutcome) -> CallRecord {
    CallRecord {
        left_queue_at: Some(at(left)),
        ended_at: Some(at(left)),
        wait_ms: Some((left - entered) * 1000),
        talk_ms: Some(0),
        outcome,
        phase: Phase::Abandoned,
        ..waiting(call_id, entered)
    }
}

fn call(record: CallRecord) -> LiveInput {
    LiveInput::Call { tenant: TENANT, call: CallUpdate { queue_id: Some(QUEUE), item_id: None, record } }
}

fn queue(id: Uuid, name: &str) -> LiveInput {
    LiveInput::Queue { tenant: TENANT, queue: QueueInfo { id, name: name.into(), active: true } }
}

fn presence(dn: &str, logged_in: bool, paused: bool, since: i64) -> LiveInput {
    LiveInput::Agent {
        tenant: TENANT,
        agent: AgentPresence {
            dn: dn.into(),
            name: format!("Agent {dn}"),
            queue_ids: vec![QUEUE],
            logged_in,
            paused,
            since: at(since),
        },
    }
}

fn item(id: u128, session: u128, status: &str, open: bool) -> LiveInput {
    LiveInput::Item {
        tenant: TENANT,
        item: ItemInfo {
            id: Uuid::from_u128(id),
            queue_id: QUEUE,
            session_id: Uuid::from_u128(session),
            status: status.into(),
            open,
        },
    }
}

fn live_with(inputs: impl IntoIterator<Item = LiveInput>) -> TenantLive {
    let mut live = TenantLive::new(LiveConfig::default());
    for input in inputs {
        live.apply(input);
    }
    live
}

fn render_all(live: &TenantLive, now: DateTime<Utc>) -> Vec<Value> {
    let channels = [ChannelId::Overview, ChannelId::Queue(QUEUE), ChannelId::Agent("101".into())];
    channels.iter().map(|channel| live.render(channel, now).document).collect()
}

fn contains_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.iter().any(contains_null),
        Value::Object(members) => members.values().any(contains_null),
        _ => false,
    }
}

#[test]
fn a_repeated_call_update_changes_nothing() {
    let mut live = live_with([queue(QUEUE, "Sales"), call(talking(1, 0, "101", 10))]);
    let before = render_all(&live, at(60));
    let affected = live.apply(call(talking(1, 0, "101", 10)));
    assert!(affected.is_empty());
    assert_eq!(render_all(&live, at(60)), before);
    assert_eq!(live.today(QUEUE).offered, 1);
}

#[test]
fn a_call_counts_once_however_many_updates_it_gets() {
    let live = live_with([
        call(waiting(1, 0)),
        call(ringing(1, 0, "101")),
        call(talking(1, 0, "101", 12)),
        call(completed(1, 0, "101", 12, 72)),
        call(completed(1, 0, "101", 12, 72)),
    ]);
    let today = live.today(QUEUE);
    assert_eq!((today.offered, today.answered, today.answered_within), (1, 1, 1));
    assert_eq!(live.agent_today("101").answered, 1);
    assert_eq!(live.agent_today("101").talk_ms, 60_000);
}

#[test]
fn a_call_leaves_the_active_calls_when_its_phase_is_terminal() {
    let mut live = live_with([call(waiting(1, 0)), call(talking(2, 0, "101", 5))]);
    assert_eq!(live.active_calls().count(), 2);
    live.apply(call(unanswered(1, 0, 30, CallOutcome::Abandoned)));
    live.apply(call(completed(2, 0, "101", 5, 50)));
    assert_eq!(live.active_calls().count(), 0);
}

#[test]
fn updates_of_different_calls_give_the_same_state_in_any_order() {
    let updates = [
        queue(QUEUE, "Sales"),
        presence("101", true, false, 0),
        call(completed(1, 0, "101", 8, 40)),
        call(unanswered(2, 5, 50, CallOutcome::Dropped)),
        call(ringing(3, 20, "101")),
        call(waiting(4, 30)),
        item(1, 9, "Waiting", true),
    ];
    let forward = live_with(updates.clone());
    let backward = live_with(updates.iter().rev().cloned());
    assert_eq!(render_all(&forward, at(300)), render_all(&backward, at(300)));
}

#[test]
fn a_stale_unreconciled_update_does_not_replace_a_reconciled_one() {
    let reconciled = CallRecord { reconciled: true, ..unanswered(1, 0, 30, CallOutcome::Overflowed) };
    let mut live = live_with([call(reconciled)]);
    let affected = live.apply(call(waiting(1, 0)));
    assert!(affected.is_empty());
    assert_eq!(live.active_calls().count(), 0);
    assert_eq!(live.today(QUEUE).overflowed, 1);
}

#[test]
fn a_call_moved_to_another_queue_counts_only_there() {
    let moved = LiveInput::Call {
        tenant: TENANT,
        call: CallUpdate { queue_id: Some(OTHER_QUEUE), item_id: None, record: waiting(1, 0) },
    };
    let live = live_with([call(waiting(1, 0)), moved]);
    assert_eq!((live.today(QUEUE).offered, live.today(OTHER_QUEUE).offered), (0, 1));
}

#[test]
fn a_new_day_stops_counting_calls_that_entered_before_it() {
    let mut live = live_with([
        call(completed(1, -7200, "101", -7190, -7100)),
        call(unanswered(2, -100, -50, CallOutcome::Abandoned)),
        call(waiting(3, -10)),
    ]);
    assert_eq!(live.today(QUEUE).offered, 3);
    assert!(live.apply(LiveInput::DayStarted { start: at(0) }).contains(&ChannelId::Queue(QUEUE)));
    assert_eq!(live.today(QUEUE).offered, 0);
    assert_eq!(live.agent_today("101").answered, 0);
    assert_eq!(live.active_calls().count(), 1, "a call waiting across midnight stays active");

    live.apply(call(talking(3, -10, "101", 20)));
    live.apply(call(waiting(4, 5)));
    assert_eq!(live.today(QUEUE).offered, 1, "only the call that entered after the start counts");

    assert!(live.apply(LiveInput::DayStarted { start: at(-86_400) }).is_empty(), "an older day start is stale");
    assert_eq!(live.day_start(), Some(at(0)));
}

#[test]
fn service_level_is_answered_within_threshold_over_answered_plus_abandoned() {
    let answered = |id, wait| completed(id, 0, "101", wait, wait + 60);
    let abandoned = |id, outcome| unanswered(id, 0, 40, outcome);
    /// Today's calls and the answered-within count, service level and average wait they give.
    type Expected = (u64, Option<f64>, Option<u64>);
    let cases: Vec<(Vec<CallRecord>, Expected)> = vec![
        (vec![], (0, None, None)),
        (vec![waiting(1, 0)], (0, None, None)),
        (vec![abandoned(1, CallOutcome::Overflowed)], (0, None, None)),
        (vec![answered(1, 20)], (1, Some(1.0), Some(20_000))),
        (vec![answered(1, 21)], (0, Some(0.0), Some(21_000))),
        (
            vec![
                answered(1, 5),
                answered(2, 15),
                answered(3, 45),
                abandoned(4, CallOutcome::Abandoned),
                abandoned(5, CallOutcome::Overflowed),
            ],
            (2, Some(0.5), Some(21_666)),
        ),
        (vec![answered(1, 10), abandoned(2, CallOutcome::Dropped)], (1, Some(0.5), Some(10_000))),
    ];
    for (calls, expected) in cases {
        let live = live_with(calls.iter().cloned().map(call));
        let today = live.today(QUEUE);
        assert_eq!((today.answered_within, today.service_level(), today.average_wait_ms()), expected, "{calls:?}");
    }
}

#[test]
fn service_level_uses_the_configured_threshold() {
    let config = LiveConfig { service_level_threshold: Duration::from_secs(60), ..LiveConfig::default() };
    let mut live = TenantLive::new(config);
    live.apply(call(completed(1, 0, "101", 45, 100)));
    assert_eq!(live.today(QUEUE).service_level(), Some(1.0));
    assert_eq!(live.queue_document(QUEUE, at(200)).today.threshold_seconds, 60);
}

#[test]
fn agent_state_follows_presence_calls_and_wrap_up_in_that_order() {
    let state = |inputs: Vec<LiveInput>, now: i64| live_with(inputs).agent_status("101", at(now));
    let status = |state, since: Option<i64>| AgentStatus { state, since: since.map(at), valid_until: None };
    let cases = [
        ("unknown", state(vec![], 0), status(AgentState::LoggedOut, None)),
        ("logged out", state(vec![presence("101", false, false, 5)], 100), status(AgentState::LoggedOut, Some(5))),
        (
            "logged out beats a call",
            state(vec![presence("101", false, false, 5), call(talking(1, 10, "101", 20))], 100),
            status(AgentState::LoggedOut, Some(5)),
        ),
        ("available", state(vec![presence("101", true, false, 5)], 100), status(AgentState::Available, Some(5))),
        ("paused", state(vec![presence("101", true, true, 7)], 100), status(AgentState::Paused, Some(7))),
        (
            "ringing since the later of entry and presence",
            state(vec![presence("101", true, false, 5), call(ringing(1, 0, "101"))], 100),
            status(AgentState::Ringing, Some(5)),
        ),
        (
            "ringing beats talking",
            state(vec![call(talking(1, 0, "101", 10)), call(ringing(2, 30, "101"))], 100),
            status(AgentState::Ringing, Some(30)),
        ),
        (
            "talking since the answer, even when paused",
            state(vec![presence("101", true, true, 5), call(talking(1, 0, "101", 12))], 100),
            status(AgentState::Talking, Some(12)),
        ),
        (
            "seen only on a call: logged in",
            state(vec![call(completed(1, 0, "101", 10, 20))], 100),
            status(AgentState::Available, Some(50)),
        ),
    ];
    for (name, actual, expected) in cases {
        assert_eq!(actual, expected, "{name}");
    }
}

#[test]
fn wrap_up_lasts_the_configured_time_after_the_last_answered_call_ends() {
    let live = live_with([presence("101", true, true, 0), call(completed(1, 0, "101", 10, 100))]);
    let wrapping = AgentStatus { state: AgentState::WrapUp, since: Some(at(100)), valid_until: Some(at(130)) };
    assert_eq!(live.agent_status("101", at(100)), wrapping);
    assert_eq!(live.agent_status("101", at(129)), wrapping);
    let paused = AgentStatus { state: AgentState::Paused, since: Some(at(130)), valid_until: None };
    assert_eq!(live.agent_status("101", at(130)), paused);
    assert_eq!(live.render(&ChannelId::Agent("101".into()), at(110)).valid_until, Some(at(130)));
    assert_eq!(live.render(&ChannelId::Agent("101".into()), at(130)).valid_until, None);
}

#[test]
fn an_unanswered_call_puts_nobody_in_wrap_up() {
    let live = live_with([presence("101", true, false, 0), call(ringing(1, 0, "101"))]);
    let mut live = live;
    live.apply(call(unanswered(1, 0, 20, CallOutcome::Abandoned)));
    assert_eq!(live.agent_status("101", at(25)).state, AgentState::Available);
}

#[test]
fn open_items_count_by_status_until_their_session_closes() {
    let mut live = live_with([
        item(1, 9, "Waiting", true),
        item(2, 9, "Waiting", true),
        item(2, 9, "Serving", true),
        item(3, 8, "Waiting", true),
        item(4, 9, "Waiting", false),
    ]);
    let statuses = |live: &TenantLive| live.queue_document(QUEUE, at(0)).items_by_status;
    assert_eq!(statuses(&live), [("Serving".to_string(), 1), ("Waiting".to_string(), 2)].into());

    live.apply(LiveInput::SessionClosed { tenant: TENANT, queue_id: QUEUE, session_id: Uuid::from_u128(9) });
    assert_eq!(statuses(&live), [("Waiting".to_string(), 1)].into());

    let late = live.apply(item(5, 9, "Waiting", true));
    assert!(late.is_empty(), "an item of a closed session arriving late does not count");
    assert_eq!(statuses(&live), [("Waiting".to_string(), 1)].into());
}

#[test]
fn queues_first_seen_on_a_call_or_item_appear_in_the_overview() {
    let live = live_with([call(waiting(1, 0)), queue(OTHER_QUEUE, "Support")]);
    let overview = live.overview_document(at(10));
    let names: Vec<(Uuid, &str)> = overview.queues.iter().map(|(id, q)| (*id, q.name.as_str())).collect();
    assert_eq!(names, vec![(QUEUE, ""), (OTHER_QUEUE, "Support")]);
    assert_eq!(overview.totals.calls_waiting, 1);
}

#[test]
fn the_queue_document_has_the_documented_shape() {
    let live = live_with([
        queue(QUEUE, "Sales"),
        presence("101", true, false, 0),
        presence("102", true, true, 3),
        call(waiting(1, 40)),
        call(waiting(2, 20)),
        call(talking(3, 0, "101", 10)),
        call(completed(4, 0, "102", 4, 8)),
        item(1, 9, "Waiting", true),
    ]);
    let expected = json!({
        "queueId": QUEUE,
        "name": "Sales",
        "active": true,
        "callsWaiting": 2,
        "oldestWaitingSince": "2025-03-03T09:00:20Z",
        "callsInProgress": 1,
        "calls": {
            format!("{CONNECTION}:1"): {"caller": "+44200001", "phase": "waiting", "enteredAt": "2025-03-03T09:00:40Z"},
            format!("{CONNECTION}:2"): {"caller": "+44200002", "phase": "waiting", "enteredAt": "2025-03-03T09:00:20Z"},
            format!("{CONNECTION}:3"): {
                "caller": "+44200003", "phase": "talking", "agentDn": "101",
                "enteredAt": "2025-03-03T09:00:00Z", "answeredAt": "2025-03-03T09:00:10Z"
            }
        },
        "agents": {
            "101": {"name": "Agent 101", "state": "talking", "since": "2025-03-03T09:00:10Z"},
            "102": {"name": "Agent 102", "state": "paused", "since": "2025-03-03T09:00:38Z"}
        },
        "agentsByState": {"available": 0, "ringing": 0, "talking": 1, "wrapUp": 0, "paused": 1, "loggedOut": 0},
        "itemsByStatus": {"Waiting": 1},
        "today": {
            "offered": 4, "answered": 2, "abandoned": 0, "overflowed": 0, "answeredWithin": 2,
            "serviceLevel": 1.0, "averageWaitMs": 7000, "thresholdSeconds": 20
        }
    });
    assert_eq!(live.render(&ChannelId::Queue(QUEUE), at(60)).document, expected);
}

#[test]
fn the_agent_document_has_the_documented_shape() {
    let live = live_with([
        presence("101", true, false, 0),
        call(completed(1, 0, "101", 10, 70)),
        call(ringing(2, 80, "101")),
        call(waiting(3, 90)),
    ]);
    let expected = json!({
        "dn": "101",
        "name": "Agent 101",
        "state": "ringing",
        "since": "2025-03-03T09:01:20Z",
        "queueIds": [QUEUE],
        "calls": {
            format!("{CONNECTION}:2"): {
                "caller": "+44200002", "phase": "ringing", "agentDn": "101",
                "enteredAt": "2025-03-03T09:01:20Z", "queueId": QUEUE
            }
        },
        "today": {"answered": 1, "talkMs": 60000}
    });
    assert_eq!(live.render(&ChannelId::Agent("101".into()), at(100)).document, expected);
}

#[test]
fn the_overview_counts_each_agent_once_in_its_totals() {
    let both_queues = LiveInput::Agent {
        tenant: TENANT,
        agent: AgentPresence {
            dn: "101".into(),
            name: "Ann".into(),
            queue_ids: vec![QUEUE, OTHER_QUEUE, QUEUE],
            logged_in: true,
            paused: false,
            since: at(0),
        },
    };
    let live = live_with([queue(QUEUE, "Sales"), queue(OTHER_QUEUE, "Support"), both_queues]);
    let overview = live.overview_document(at(10));
    assert_eq!(overview.queues[&QUEUE].agents_by_state.available, 1);
    assert_eq!(overview.queues[&OTHER_QUEUE].agents_by_state.available, 1);
    assert_eq!(overview.totals.agents_by_state.available, 1);
    assert_eq!(live.agent_document("101", at(10)).queue_ids, vec![QUEUE, OTHER_QUEUE]);
}

#[test]
fn documents_never_contain_null_and_omit_unknown_facts() {
    let anonymous = CallRecord { caller: None, entered_at: None, ..waiting(1, 0) };
    let live = live_with([call(anonymous), presence("101", true, false, 0)]);
    for document in render_all(&live, at(0)) {
        assert!(!contains_null(&document), "{document}");
    }
    let queue = live.render(&ChannelId::Queue(QUEUE), at(0)).document;
    assert_eq!(queue["calls"][format!("{CONNECTION}:1")], json!({"phase": "waiting"}));
    assert!(queue["today"].get("serviceLevel").is_none());
    assert!(queue.get("oldestWaitingSince").is_none());
}

#[test]
fn affected_channels_name_the_queue_the_agent_and_the_overview() {
    let mut live = live_with([presence("101", true, false, 0)]);
    let affected = live.apply(LiveInput::Call {
        tenant: TENANT,
        call: CallUpdate { queue_id: Some(OTHER_QUEUE), item_id: None, record: ringing(1, 0, "101") },
    });
    for channel in
        [ChannelId::Overview, ChannelId::Queue(OTHER_QUEUE), ChannelId::Queue(QUEUE), ChannelId::Agent("101".into())]
    {
        assert!(affected.contains(&channel), "{channel}");
    }
    assert!(!affected.contains(&ChannelId::Agent("102".into())));
}
