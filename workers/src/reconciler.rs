//! The reconcilers of one PBX connection: `CallHistoryView` and `ReportCallLogData` read on a
//! schedule, so calls the poller never saw (shorter than an interval, or during an outage) still
//! arrive, and what it inferred is corrected to 3CX's record.
//!
//! **History.** 3CX writes a call's segments once they end. Each run reads the segments that
//! ended at or after `checkpoint - overlap` (the checkpoint is the latest `SegmentEndTime` read,
//! persisted per connection), plus the earlier segments of any call whose segments read start
//! before that window (a long call's queue leg ended long before its last leg), and records one
//! observation per segment in the inbox, keyed by segment id: the overlap costs reads, never
//! duplicates.
//!
//! **Call log.** `GetCallLogData` selects calls by when they started, so each run reads the
//! calls that started within `lookback` before the previous run's PBX time (persisted), which
//! covers calls up to `lookback` long; rows are keyed by CDR id. It adds 3CX's main call
//! history id and cross-checks the history.
//!
//! Both use PBX time only (from the poller's [`PbxClock`]); they wait for its first reading.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use lineup_domain::call::{
    call_log_observation, duration_ms, history_observation, CallLogRow, HistorySegment, Observation,
};
use lineup_store::DynStore;
use lineup_xapi::generated::types::{CallHistoryView, CallLogData};
use lineup_xapi::generated::GetCallLogDataParams;
use lineup_xapi::{Filter, Query, SortOrder};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::clock::PbxClock;
use crate::connection::{record_observations, PbxLink};
use crate::health::Health;
use crate::metrics as m;

/// The checkpoint name of the history reader.
pub const HISTORY_CHECKPOINT: &str = "history";
/// The checkpoint name of the call-log reader.
pub const CALL_LOG_CHECKPOINT: &str = "call-log";

/// How far back to read and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcilerConfig {
    /// Cron schedule (with seconds, UTC) of the history reader.
    pub history_schedule: String,
    /// Cron schedule of the call-log reader.
    pub call_log_schedule: String,
    /// How far before the checkpoint each history read starts again.
    pub overlap: TimeDelta,
    /// Where the first history read starts, before the PBX's present.
    pub initial_lookback: TimeDelta,
    /// How long before the last run's PBX time a call-log read starts (the longest call it
    /// is sure to see whole).
    pub call_log_lookback: TimeDelta,
    /// Calls whose earlier segments are fetched per request.
    pub calls_per_request: usize,
}

impl Default for ReconcilerConfig {
    fn default() -> Self {
        ReconcilerConfig {
            history_schedule: "*/10 * * * * *".into(),
            call_log_schedule: "0 * * * * *".into(),
            overlap: TimeDelta::minutes(10),
            initial_lookback: TimeDelta::hours(1),
            call_log_lookback: TimeDelta::hours(3),
            calls_per_request: 25,
        }
    }
}

/// A persisted position of a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// History: the latest segment end read. Call log: the PBX time of the last run.
    pub through: DateTime<Utc>,
    /// The PBX time of the last successful run (its staleness is the reader's lag).
    #[serde(default)]
    pub read_at: Option<DateTime<Utc>>,
}

/// What one run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunOutcome {
    /// Rows read.
    pub rows: usize,
    /// Observations new to the inbox.
    pub recorded: usize,
    /// False when the run waited for the PBX clock.
    pub ran: bool,
}

/// The history segment the domain reads from a `CallHistoryView` row (`SrcParticipantId` is the
/// call id); `None` for a row lacking what identifies or places it.
pub fn history_segment(row: &CallHistoryView) -> Option<HistorySegment> {
    Some(HistorySegment {
        call_id: row.src_participant_id?,
        segment_id: row.segment_id?,
        segment_start_time: row.segment_start_time?,
        segment_end_time: row.segment_end_time?,
        segment_action_id: row.segment_action_id.unwrap_or(0),
        call_answered: row.call_answered.unwrap_or(false),
        call_time_ms: row.call_time.as_deref().and_then(duration_ms).unwrap_or(0),
        src_caller_number: row.src_caller_number.clone(),
        dst_dn: row.dst_dn.clone()?,
        dst_dn_type: row.dst_dn_type.unwrap_or(-1),
    })
}

/// The call-log row the domain reads from a `CallLogData` row.
pub fn call_log_row(row: &CallLogData) -> Option<CallLogRow> {
    let ms = |d: &Option<String>| d.as_deref().and_then(duration_ms).unwrap_or(0);
    Some(CallLogRow {
        call_id: row.call_id?,
        main_call_history_id: row.main_call_history_id.clone(),
        cdr_id: row.cdr_id.clone()?,
        start_time: row.start_time?,
        source_caller_id: row.source_caller_id.clone(),
        destination_dn: row.destination_dn.clone()?,
        destination_type: row.destination_type,
        action_type: row.action_type,
        reason: row.reason.clone(),
        answered: row.answered.unwrap_or(false),
        ringing_ms: ms(&row.ringing_duration),
        talking_ms: ms(&row.talking_duration),
    })
}

/// The reconcilers of one connection.
pub struct Reconciler {
    link: PbxLink,
    store: DynStore,
    health: Health,
    clock: PbxClock,
    inbox_ready: Arc<Notify>,
    config: ReconcilerConfig,
    history_running: tokio::sync::Mutex<()>,
    call_log_running: tokio::sync::Mutex<()>,
}

impl Reconciler {
    pub fn new(
        link: PbxLink,
        store: DynStore,
        health: Health,
        clock: PbxClock,
        inbox_ready: Arc<Notify>,
        config: ReconcilerConfig,
    ) -> Reconciler {
        Reconciler {
            link,
            store,
            health,
            clock,
            inbox_ready,
            config,
            history_running: tokio::sync::Mutex::new(()),
            call_log_running: tokio::sync::Mutex::new(()),
        }
    }

    pub fn config(&self) -> &ReconcilerConfig {
        &self.config
    }

    /// Health name of a reader of this connection.
    pub fn name(&self, reader: &str) -> String {
        format!("reconciler-{reader}:{}", self.link.connection_id)
    }

    async fn checkpoint(&self, name: &str) -> anyhow::Result<Option<Checkpoint>> {
        let stored = self.store.get_checkpoint(self.link.tenant, self.link.connection_id, name).await?;
        Ok(stored.and_then(|v| serde_json::from_value(v).ok()))
    }

    async fn save_checkpoint(&self, name: &str, checkpoint: Checkpoint) -> anyhow::Result<()> {
        let value = serde_json::to_value(checkpoint)?;
        self.store.put_checkpoint(self.link.tenant, self.link.connection_id, name, &value, Utc::now()).await?;
        Ok(())
    }

    async fn record(&self, observations: &[Observation]) -> anyhow::Result<usize> {
        Ok(record_observations(&self.store, self.link.tenant, observations, &self.inbox_ready).await?)
    }

    /// Runs the history reader once unless a run is already going on; reports to health.
    pub async fn run_history(&self) -> anyhow::Result<RunOutcome> {
        let Ok(_running) = self.history_running.try_lock() else { return Ok(RunOutcome::default()) };
        let outcome = self.reconcile_history().await;
        self.report("history", &outcome, HISTORY_CHECKPOINT).await;
        outcome
    }

    /// Runs the call-log reader once unless a run is already going on; reports to health.
    pub async fn run_call_log(&self) -> anyhow::Result<RunOutcome> {
        let Ok(_running) = self.call_log_running.try_lock() else { return Ok(RunOutcome::default()) };
        let outcome = self.reconcile_call_log().await;
        self.report("call-log", &outcome, CALL_LOG_CHECKPOINT).await;
        outcome
    }

    async fn report(&self, reader: &'static str, outcome: &anyhow::Result<RunOutcome>, checkpoint: &str) {
        let name = self.name(reader);
        let now = Utc::now();
        match outcome {
            Ok(o) if !o.ran => self.health.register(&name),
            Ok(_) => {
                metrics::counter!(m::RECONCILE_RUNS, "reader" => reader, "result" => "ok").increment(1);
                let read_at = self.checkpoint(checkpoint).await.ok().flatten().and_then(|c| c.read_at);
                let lag = self.clock.now().zip(read_at).map(|(now, read)| (now - read).num_milliseconds().max(0));
                self.health.success(&name, now, lag);
            }
            Err(e) => {
                metrics::counter!(m::RECONCILE_RUNS, "reader" => reader, "result" => "error").increment(1);
                tracing::warn!(connection = %self.link.connection_id, reader, error = %format!("{e:#}"), "reconciler run failed");
                self.health.failure(&name, now, &format!("{e:#}"));
            }
        }
    }

    /// One history read (see the module documentation).
    pub async fn reconcile_history(&self) -> anyhow::Result<RunOutcome> {
        let Some(pbx_now) = self.clock.now() else { return Ok(RunOutcome::default()) };
        let through = match self.checkpoint(HISTORY_CHECKPOINT).await? {
            Some(c) => c.through,
            None => pbx_now - self.config.initial_lookback,
        };
        let from = through - self.config.overlap;
        let client = &self.link.client;
        let query = Query::new().filter(Filter::ge("SegmentEndTime", from)).order_by("SegmentEndTime", SortOrder::Asc);
        let mut rows = client
            .collect_all(query, |c, q| async move { c.list_call_history(&q).await })
            .await
            .context("reading CallHistoryView")?;
        let mut earliest_start: BTreeMap<i32, DateTime<Utc>> = BTreeMap::new();
        for seg in rows.iter().filter_map(history_segment) {
            let start = earliest_start.entry(seg.call_id).or_insert(seg.segment_start_time);
            *start = (*start).min(seg.segment_start_time);
        }
        let older: Vec<i32> = earliest_start.iter().filter(|(_, start)| **start < from).map(|(id, _)| *id).collect();
        for ids in older.chunks(self.config.calls_per_request.max(1)) {
            let calls = ids
                .iter()
                .map(|id| Filter::eq("SrcParticipantId", *id))
                .reduce(Filter::or)
                .expect("a chunk is never empty");
            let query = Query::new().filter(calls.and(Filter::lt("SegmentEndTime", from)));
            let earlier = client
                .collect_all(query, |c, q| async move { c.list_call_history(&q).await })
                .await
                .context("reading earlier CallHistoryView segments")?;
            rows.extend(earlier);
        }
        let segments: Vec<HistorySegment> = rows.iter().filter_map(history_segment).collect();
        let mut seen = BTreeSet::new();
        let observations: Vec<Observation> = segments
            .iter()
            .filter(|s| seen.insert((s.call_id, s.segment_id)))
            .map(|s| history_observation(self.link.connection_id, s))
            .collect();
        let recorded = self.record(&observations).await?;
        let latest = segments.iter().map(|s| s.segment_end_time).max();
        let through = latest.map_or(through, |l| l.max(through));
        self.save_checkpoint(HISTORY_CHECKPOINT, Checkpoint { through, read_at: Some(pbx_now) }).await?;
        Ok(RunOutcome { rows: rows.len(), recorded, ran: true })
    }

    /// One call-log read (see the module documentation).
    pub async fn reconcile_call_log(&self) -> anyhow::Result<RunOutcome> {
        let Some(pbx_now) = self.clock.now() else { return Ok(RunOutcome::default()) };
        let last = self.checkpoint(CALL_LOG_CHECKPOINT).await?.map_or(pbx_now, |c| c.through.min(pbx_now));
        let params = GetCallLogDataParams {
            period_from: last - self.config.call_log_lookback,
            period_to: pbx_now + TimeDelta::minutes(1),
            ..GetCallLogDataParams::default()
        };
        let client = &self.link.client;
        let rows = client
            .collect_all(Query::new(), |c, q| {
                let params = params.clone();
                async move { c.get_call_log_data(&params, &q).await }
            })
            .await
            .context("reading ReportCallLogData")?;
        let observations: Vec<Observation> =
            rows.iter().filter_map(call_log_row).map(|r| call_log_observation(self.link.connection_id, &r)).collect();
        let recorded = self.record(&observations).await?;
        self.save_checkpoint(CALL_LOG_CHECKPOINT, Checkpoint { through: pbx_now, read_at: Some(pbx_now) }).await?;
        Ok(RunOutcome { rows: rows.len(), recorded, ran: true })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_rows_without_identity_are_skipped_and_durations_parsed() {
        assert_eq!(history_segment(&CallHistoryView::default()), None);
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let row = CallHistoryView {
            src_participant_id: Some(7),
            segment_id: Some(70),
            segment_start_time: Some(t),
            segment_end_time: Some(t + TimeDelta::seconds(90)),
            segment_action_id: Some(1),
            call_answered: Some(true),
            call_time: Some("PT1M15S".into()),
            dst_dn: Some("101".into()),
            dst_dn_type: Some(0),
            ..CallHistoryView::default()
        };
        let s = history_segment(&row).unwrap();
        assert_eq!((s.call_id, s.segment_id, s.call_time_ms, s.dst_dn.as_str()), (7, 70, 75_000, "101"));
    }

    #[test]
    fn call_log_rows_need_call_cdr_start_and_destination() {
        assert_eq!(call_log_row(&CallLogData::default()), None);
        let row = CallLogData {
            call_id: Some(7),
            cdr_id: Some("cdr-1".into()),
            start_time: Some(DateTime::from_timestamp(1_800_000_000, 0).unwrap()),
            destination_dn: Some("800".into()),
            ringing_duration: Some("PT20S".into()),
            talking_duration: Some("PT2M".into()),
            ..CallLogData::default()
        };
        let r = call_log_row(&row).unwrap();
        assert_eq!((r.ringing_ms, r.talking_ms, r.answered), (20_000, 120_000, false));
    }
}
