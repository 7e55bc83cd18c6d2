//! The hub end to end on a real (paused-clock) tokio runtime: snapshots, coalesced deltas,
//! resuming, lag resync and slow subscribers.

use std::time::Duration;

use chrono::Utc;
use lineup_domain::call::{CallKey, CallOutcome, CallRecord, Phase};
use lineup_live::patch;
use lineup_live::{CallUpdate, ChannelId, Frame, FrameKind, Hub, LiveConfig, LiveInput, QueueInfo, Subscription};
use serde_json::Value;
use tokio::sync::watch;
use tokio::time::{timeout, Instant};
use uuid::Uuid;

const TENANT: Uuid = Uuid::from_u128(0xAA);
const QUEUE: Uuid = Uuid::from_u128(0x51);
const CHANNEL: ChannelId = ChannelId::Queue(QUEUE);

/// A call waiting in the queue since a minute ago; each `call_id` adds one call to the document.
fn waiting_call(call_id: i32) -> LiveInput {
    let record = CallRecord {
        key: CallKey { connection: Uuid::from_u128(0xC0), call_id },
        history_id: None,
        caller: Some(format!("+4420{call_id:04}")),
        queue_dn: Some("800".into()),
        agent_dn: None,
        entered_at: Some(Utc::now() - chrono::TimeDelta::seconds(60)),
        answered_at: None,
        left_queue_at: None,
        ended_at: None,
        wait_ms: None,
        talk_ms: None,
        outcome: CallOutcome::InProgress,
        phase: Phase::Waiting,
        reconciled: false,
    };
    LiveInput::Call { tenant: TENANT, call: CallUpdate { queue_id: Some(QUEUE), item_id: None, record } }
}

fn sales_queue() -> LiveInput {
    LiveInput::Queue { tenant: TENANT, queue: QueueInfo { id: QUEUE, name: "Sales".into(), active: true } }
}

fn hub_with(config: LiveConfig) -> Hub {
    let hub = Hub::new(config);
    hub.apply([sales_queue()]);
    hub
}

/// Starts the hub's publishing loop; the sender stops it.
fn start(hub: &Hub) -> watch::Sender<bool> {
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(hub.clone().run(stopped));
    stop
}

/// Applies a frame to the document a subscriber holds.
fn follow(document: &mut Value, frame: &Frame) {
    match frame.kind {
        FrameKind::Snapshot => *document = frame.body.clone(),
        FrameKind::Delta => patch::apply(document, &frame.body),
    }
}

async fn next_within(subscription: &mut Subscription, hub: &Hub, limit: Duration) -> Option<std::sync::Arc<Frame>> {
    timeout(limit, subscription.next(hub)).await.ok().flatten()
}

#[tokio::test(start_paused = true)]
async fn the_first_subscriber_gets_a_snapshot_at_seq_zero() {
    let hub = hub_with(LiveConfig::default());
    let subscription = hub.subscribe(TENANT, &CHANNEL, None);
    let [snapshot] = subscription.initial.as_slice() else { panic!("expected one frame") };
    assert_eq!((snapshot.kind, snapshot.seq), (FrameKind::Snapshot, 0));
    assert_eq!(snapshot.body["name"], "Sales");
    let wire: Value = serde_json::from_slice(&snapshot.json).unwrap();
    assert_eq!((wire["type"].as_str(), wire["channel"].as_str()), (Some("snapshot"), Some(&*CHANNEL.to_string())));
    assert_eq!(wire["data"], snapshot.body);
}

#[tokio::test(start_paused = true)]
async fn an_update_publishes_one_delta_that_turns_the_snapshot_into_the_new_document() {
    let hub = hub_with(LiveConfig::default());
    let _stop = start(&hub);
    let mut subscription = hub.subscribe(TENANT, &CHANNEL, None);
    let snapshot = subscription.next(&hub).await.unwrap();

    hub.apply([waiting_call(1)]);
    let delta = subscription.next(&hub).await.unwrap();
    assert_eq!((delta.kind, delta.seq), (FrameKind::Delta, 1));

    let mut document = snapshot.body.clone();
    patch::apply(&mut document, &delta.body);
    let current = hub.snapshot(TENANT, &CHANNEL);
    assert_eq!(current.seq, 1);
    assert_eq!(document, current.body);
    assert_eq!(document["callsWaiting"], 1);
}

#[tokio::test(start_paused = true)]
async fn updates_within_one_tick_coalesce_into_one_delta() {
    let hub = hub_with(LiveConfig::default());
    let mut subscription = hub.subscribe(TENANT, &CHANNEL, None);
    subscription.next(&hub).await.unwrap();
    hub.apply([waiting_call(1), waiting_call(2)]);
    hub.apply([waiting_call(3)]);
    let _stop = start(&hub);

    let delta = subscription.next(&hub).await.unwrap();
    assert_eq!((delta.kind, delta.seq), (FrameKind::Delta, 1));
    assert_eq!(delta.body["callsWaiting"], 3);
    assert_eq!(next_within(&mut subscription, &hub, Duration::from_secs(5)).await, None, "an idle queue is quiet");
}

#[tokio::test(start_paused = true)]
async fn a_resuming_subscriber_within_history_gets_exactly_the_missed_deltas() {
    let hub = hub_with(LiveConfig::default());
    let _listener = hub.subscribe(TENANT, &CHANNEL, None);
    for call_id in 1..=3 {
        hub.apply([waiting_call(call_id)]);
        assert_eq!(hub.publish_pending(), 1);
    }
    let resumed = hub.subscribe(TENANT, &CHANNEL, Some(1));
    let seqs: Vec<(FrameKind, u64)> = resumed.initial.iter().map(|f| (f.kind, f.seq)).collect();
    assert_eq!(seqs, vec![(FrameKind::Delta, 2), (FrameKind::Delta, 3)]);
    assert!(hub.subscribe(TENANT, &CHANNEL, Some(3)).initial.is_empty(), "a current subscriber needs nothing");
}

#[tokio::test(start_paused = true)]
async fn a_resuming_subscriber_beyond_history_or_from_the_future_gets_a_snapshot() {
    let hub = hub_with(LiveConfig { history: 2, ..LiveConfig::default() });
    let _listener = hub.subscribe(TENANT, &CHANNEL, None);
    for call_id in 1..=4 {
        hub.apply([waiting_call(call_id)]);
        hub.publish_pending();
    }
    for since in [Some(0), Some(1), Some(5), Some(1000), None] {
        let subscription = hub.subscribe(TENANT, &CHANNEL, since);
        let frames: Vec<(FrameKind, u64)> = subscription.initial.iter().map(|f| (f.kind, f.seq)).collect();
        assert_eq!(frames, vec![(FrameKind::Snapshot, 4)], "since {since:?}");
    }
    let within: Vec<u64> = hub.subscribe(TENANT, &CHANNEL, Some(2)).initial.iter().map(|f| f.seq).collect();
    assert_eq!(within, vec![3, 4]);
}

#[tokio::test(start_paused = true)]
async fn changes_made_while_nobody_listened_reach_a_resuming_subscriber_as_a_delta() {
    let hub = hub_with(LiveConfig::default());
    drop(hub.subscribe(TENANT, &CHANNEL, None));
    hub.apply([waiting_call(1)]);
    assert_eq!(hub.publish_pending(), 0, "a channel without subscribers is not rendered");

    let resumed = hub.subscribe(TENANT, &CHANNEL, Some(0));
    let [delta] = resumed.initial.as_slice() else { panic!("expected one frame") };
    assert_eq!((delta.kind, delta.seq), (FrameKind::Delta, 1));
    assert_eq!(delta.body["callsWaiting"], 1);
}

#[tokio::test(start_paused = true)]
async fn a_lagging_subscriber_resyncs_with_a_snapshot_and_never_sees_a_gap() {
    let hub = hub_with(LiveConfig { subscriber_buffer: 2, ..LiveConfig::default() });
    let mut lagging = hub.subscribe(TENANT, &CHANNEL, None);
    for call_id in 1..=10 {
        hub.apply([waiting_call(call_id)]);
        hub.publish_pending();
    }

    let mut document = Value::Null;
    let mut last_seq = None;
    while lagging.last_seq() < 10 || !lagging.initial.is_empty() {
        let frame = lagging.next(&hub).await.unwrap();
        if frame.kind == FrameKind::Delta {
            assert_eq!(Some(frame.seq - 1), last_seq, "deltas must follow each other");
        }
        follow(&mut document, &frame);
        last_seq = Some(frame.seq);
    }
    assert_eq!(lagging.resyncs(), 1);
    assert_eq!(hub.stats().resyncs, 1);

    hub.apply([waiting_call(11)]);
    hub.publish_pending();
    let frame = lagging.next(&hub).await.unwrap();
    assert_eq!((frame.kind, frame.seq), (FrameKind::Delta, 11));
    follow(&mut document, &frame);
    assert_eq!(document, hub.snapshot(TENANT, &CHANNEL).body);
    assert_eq!(document["callsWaiting"], 11);
}

#[tokio::test(start_paused = true)]
async fn a_subscriber_that_never_reads_does_not_delay_another() {
    let config = LiveConfig { subscriber_buffer: 2, ..LiveConfig::default() };
    let hub = hub_with(config);
    let _stop = start(&hub);
    let _sleeper = hub.subscribe(TENANT, &CHANNEL, None);
    let mut reader = hub.subscribe(TENANT, &CHANNEL, None);
    reader.next(&hub).await.unwrap();

    for call_id in 1..=10 {
        let applied = Instant::now();
        hub.apply([waiting_call(call_id)]);
        let frame = next_within(&mut reader, &hub, config.tick() * 2).await.expect("delta within a tick");
        assert!(applied.elapsed() <= config.tick());
        assert_eq!((frame.kind, frame.seq), (FrameKind::Delta, call_id as u64));
    }
    assert_eq!(reader.resyncs(), 0);
}

#[tokio::test(start_paused = true)]
async fn subscriptions_are_counted_until_dropped() {
    let hub = hub_with(LiveConfig::default());
    let first = hub.subscribe(TENANT, &CHANNEL, None);
    let second = hub.subscribe(TENANT, &ChannelId::Overview, None);
    let stats = hub.stats();
    assert_eq!((stats.tenants, stats.channels, stats.subscribers), (1, 2, 2));
    drop(first);
    assert_eq!(hub.stats().subscribers, 1);
    drop(second);
    assert_eq!(hub.stats().subscribers, 0);
}

#[tokio::test(start_paused = true)]
async fn a_snapshot_is_serialised_once_per_seq_and_shared() {
    let hub = hub_with(LiveConfig::default());
    let first = hub.snapshot(TENANT, &CHANNEL);
    let second = hub.snapshot(TENANT, &CHANNEL);
    assert!(std::sync::Arc::ptr_eq(&first, &second));
    assert_eq!(hub.stats().frames_published, 1);
}

#[tokio::test(start_paused = true)]
async fn a_day_start_reaches_tenants_created_later() {
    let hub = Hub::new(LiveConfig::default());
    hub.apply([LiveInput::DayStarted { start: Utc::now() }]);
    hub.apply([sales_queue(), waiting_call(1)]);
    let today = &hub.snapshot(TENANT, &CHANNEL).body["today"];
    assert_eq!(today["offered"], 0, "the call entered before the day started");
}

#[tokio::test(start_paused = true)]
async fn run_returns_when_told_to_stop() {
    let hub = hub_with(LiveConfig::default());
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(hub.clone().run(stopped));
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.send(true).unwrap();
    timeout(Duration::from_secs(1), running).await.expect("run stops").unwrap();
}
