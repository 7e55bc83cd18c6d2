//! The counters every subscriber adds to, and what one subscriber does with one message.
//!
//! Counts cover the whole run; delta latencies and the delta rate cover only the recording
//! window (`start_recording` .. `stop_recording`), so connection ramp-up does not skew them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::frame::{parse_message, Message, SeqCheck, SeqTracker};
use crate::histogram::LatencyHistogram;

/// How many distinct error texts the report keeps as samples.
const ERROR_SAMPLES: usize = 8;

/// Counters shared by all subscriber tasks of one run.
#[derive(Default)]
pub struct Tally {
    /// Connections that got a 200 stream or an upgraded socket.
    pub opened: AtomicU64,
    /// Connections refused, timed out or broken before that.
    pub failed: AtomicU64,
    /// WebSocket `subscribed` replies.
    pub subscribed: AtomicU64,
    /// WebSocket `error` replies.
    pub refused: AtomicU64,
    pub snapshots: AtomicU64,
    /// Deltas of the whole run.
    pub deltas: AtomicU64,
    /// Deltas received while recording; each has a latency in `latency`.
    pub recorded_deltas: AtomicU64,
    /// Deltas whose seq jumped forward, and the seqs skipped in all.
    pub seq_gaps: AtomicU64,
    pub missing_frames: AtomicU64,
    /// Deltas whose seq went back or repeated.
    pub seq_regressions: AtomicU64,
    /// Recorded deltas received before their `changedAt` (recorded as 0).
    pub negative_latencies: AtomicU64,
    /// Messages that are not frames of the protocol.
    pub bad_frames: AtomicU64,
    /// Opened connections that the server ended or that broke.
    pub disconnects: AtomicU64,
    /// Receive time − `changedAt` of the recorded deltas, in microseconds.
    pub latency: LatencyHistogram,
    recording: AtomicBool,
    errors: Mutex<Vec<String>>,
}

impl Tally {
    /// Starts recording latencies and counting deltas for the rate.
    pub fn start_recording(&self) {
        self.recording.store(true, Ordering::SeqCst);
    }

    /// Stops recording; counts of the whole run go on.
    pub fn stop_recording(&self) {
        self.recording.store(false, Ordering::SeqCst);
    }

    /// Connections that ended either way (opened or failed).
    pub fn settled(&self) -> u64 {
        self.opened.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }

    /// Keeps an error text as a sample, once, up to `ERROR_SAMPLES` of them.
    pub fn note_error(&self, error: impl Into<String>) {
        let error = error.into();
        let mut errors = self.errors.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if errors.len() < ERROR_SAMPLES && !errors.contains(&error) {
            errors.push(error);
        }
    }

    /// The kept error samples.
    pub fn error_samples(&self) -> Vec<String> {
        self.errors.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Counts one message received at `now` on a connection whose channels are tracked by
    /// `trackers` (channel name, tracker). A frame without a channel, or of an unknown channel,
    /// is checked against the first tracker (an SSE stream carries one channel).
    pub fn on_message(&self, text: &str, trackers: &mut [(String, SeqTracker)], now: DateTime<Utc>) {
        let message = match parse_message(text) {
            Ok(message) => message,
            Err(error) => {
                self.bad_frames.fetch_add(1, Ordering::Relaxed);
                self.note_error(error);
                return;
            }
        };
        match message {
            Message::Snapshot { channel, seq } => {
                self.snapshots.fetch_add(1, Ordering::Relaxed);
                if let Some(tracker) = tracker_of(trackers, channel.as_deref()) {
                    tracker.on_snapshot(seq);
                }
            }
            Message::Delta { channel, seq, changed_at } => {
                self.deltas.fetch_add(1, Ordering::Relaxed);
                if let Some(tracker) = tracker_of(trackers, channel.as_deref()) {
                    match tracker.on_delta(seq) {
                        SeqCheck::InOrder => {}
                        SeqCheck::Gap { missing } => {
                            self.seq_gaps.fetch_add(1, Ordering::Relaxed);
                            self.missing_frames.fetch_add(missing, Ordering::Relaxed);
                        }
                        SeqCheck::Regression => {
                            self.seq_regressions.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                if self.recording.load(Ordering::Relaxed) {
                    self.recorded_deltas.fetch_add(1, Ordering::Relaxed);
                    let micros = (now - changed_at).num_microseconds().unwrap_or(i64::MAX);
                    if micros < 0 {
                        self.negative_latencies.fetch_add(1, Ordering::Relaxed);
                    }
                    self.latency.record(micros.max(0) as u64);
                }
            }
            Message::Subscribed => {
                self.subscribed.fetch_add(1, Ordering::Relaxed);
            }
            Message::Error => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                self.note_error(format!("subscription refused: {text}"));
            }
        }
    }
}

fn tracker_of<'t>(trackers: &'t mut [(String, SeqTracker)], channel: Option<&str>) -> Option<&'t mut SeqTracker> {
    let index = channel.and_then(|channel| trackers.iter().position(|(name, _)| name == channel)).unwrap_or(0);
    trackers.get_mut(index).map(|(_, tracker)| tracker)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(channel: &str, seq: u64, changed_at: &str) -> String {
        format!(r#"{{"type":"delta","channel":"{channel}","seq":{seq},"patch":{{}},"changedAt":"{changed_at}"}}"#)
    }

    #[test]
    fn deltas_are_checked_per_channel_and_timed_only_while_recording() {
        let tally = Tally::default();
        let now = "2026-11-23T16:00:01Z".parse().unwrap();
        let mut trackers = vec![("a".to_string(), SeqTracker::default()), ("b".to_string(), SeqTracker::default())];
        tally.on_message(r#"{"type":"snapshot","channel":"a","seq":1,"data":{}}"#, &mut trackers, now);
        tally.on_message(r#"{"type":"snapshot","channel":"b","seq":7,"data":{}}"#, &mut trackers, now);
        tally.on_message(&delta("a", 2, "2026-11-23T16:00:00.990Z"), &mut trackers, now);
        tally.start_recording();
        tally.on_message(&delta("b", 8, "2026-11-23T16:00:00.980Z"), &mut trackers, now);
        tally.on_message(&delta("a", 5, "2026-11-23T16:00:00.970Z"), &mut trackers, now);
        tally.on_message(&delta("a", 6, "2026-11-23T16:00:01.500Z"), &mut trackers, now);
        tally.on_message("{}", &mut trackers, now);

        let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        assert_eq!(count(&tally.snapshots), 2);
        assert_eq!(count(&tally.deltas), 4);
        assert_eq!(count(&tally.recorded_deltas), 3);
        assert_eq!(count(&tally.seq_gaps), 1);
        assert_eq!(count(&tally.missing_frames), 2);
        assert_eq!(count(&tally.negative_latencies), 1);
        assert_eq!(count(&tally.bad_frames), 1);
        assert_eq!(tally.latency.quantile(1.0), 30_000, "the largest recorded latency is 30 ms");
        assert_eq!(tally.error_samples().len(), 1);
    }
}
