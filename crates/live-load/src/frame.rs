//! The live hub's frames as the tool reads them, and the per-channel sequence check.
//!
//! Only the envelope is decoded (`type`, `channel`, `seq`, `changedAt`); `data` and `patch` are
//! skipped without being built, so a subscriber spends little on each frame.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// One message from the hub: a frame of a channel or, on a WebSocket, a reply to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// A channel's full state; the next delta must carry `seq + 1`.
    Snapshot { channel: Option<Cow<'a, str>>, seq: u64 },
    /// A change; `changed_at` is when its oldest folded change was committed.
    Delta { channel: Option<Cow<'a, str>>, seq: u64, changed_at: DateTime<Utc> },
    /// A WebSocket subscription was accepted.
    Subscribed,
    /// A WebSocket request was refused.
    Error,
}

/// The envelope of any message; unknown fields are skipped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    channel: Option<Cow<'a, str>>,
    seq: Option<u64>,
    changed_at: Option<DateTime<Utc>>,
}

/// Decodes one message; the error says what is wrong with it, for the report's samples.
pub fn parse_message(text: &str) -> Result<Message<'_>, String> {
    let envelope: Envelope<'_> = serde_json::from_str(text).map_err(|e| format!("not a frame ({e})"))?;
    let seq = || envelope.seq.ok_or_else(|| format!("a {} frame without seq", envelope.kind));
    match envelope.kind.as_ref() {
        "snapshot" => Ok(Message::Snapshot { seq: seq()?, channel: envelope.channel }),
        "delta" => {
            let seq = seq()?;
            let changed_at = envelope.changed_at.ok_or("a delta frame without changedAt")?;
            Ok(Message::Delta { channel: envelope.channel, seq, changed_at })
        }
        "subscribed" => Ok(Message::Subscribed),
        "error" => Ok(Message::Error),
        other => Err(format!("unknown frame type {other:?}")),
    }
}

/// What a frame's seq says about delivery on its channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqCheck {
    /// The expected seq, or the first frame seen on the channel.
    InOrder,
    /// Seq jumped forward: `missing` frames were never delivered.
    Gap { missing: u64 },
    /// Seq went back or repeated.
    Regression,
}

/// The seq the next delta of one channel must carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqTracker {
    expected: Option<u64>,
}

impl SeqTracker {
    /// A snapshot resets the expectation to `seq + 1`.
    pub fn on_snapshot(&mut self, seq: u64) {
        self.expected = Some(seq + 1);
    }

    /// Checks a delta against the expectation, then expects `seq + 1` whatever the outcome.
    pub fn on_delta(&mut self, seq: u64) -> SeqCheck {
        let check = match self.expected {
            None => SeqCheck::InOrder,
            Some(expected) if seq == expected => SeqCheck::InOrder,
            Some(expected) if seq > expected => SeqCheck::Gap { missing: seq - expected },
            Some(_) => SeqCheck::Regression,
        };
        self.expected = Some(seq + 1);
        check
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_decode_to_their_envelope() {
        let at = "2026-11-23T16:00:00.123456Z".parse::<DateTime<Utc>>().unwrap();
        let cases = [
            (r#"{"type":"snapshot","channel":"overview","seq":12,"data":{"a":[1,2]}}"#, Ok(snapshot(12))),
            (
                r#"{"type":"delta","channel":"overview","seq":13,"patch":{},"changedAt":"2026-11-23T16:00:00.123456Z"}"#,
                Ok(Message::Delta { channel: Some("overview".into()), seq: 13, changed_at: at }),
            ),
            (r#"{"type":"subscribed","channel":"overview"}"#, Ok(Message::Subscribed)),
            (r#"{"type":"error","channel":"x","problem":{"status":404}}"#, Ok(Message::Error)),
            (r#"{"type":"delta","seq":13}"#, Err("a delta frame without changedAt".to_string())),
            (r#"{"type":"snapshot"}"#, Err("a snapshot frame without seq".to_string())),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_message(text), expected, "{text}");
        }
        assert!(parse_message("not json").is_err());
    }

    fn snapshot(seq: u64) -> Message<'static> {
        Message::Snapshot { channel: Some("overview".into()), seq }
    }

    #[test]
    fn seq_tracker_finds_gaps_and_regressions_and_resets_on_snapshot() {
        let mut tracker = SeqTracker::default();
        assert_eq!(tracker.on_delta(5), SeqCheck::InOrder, "first frame sets the expectation");
        tracker.on_snapshot(10);
        let deltas = [
            (11, SeqCheck::InOrder),
            (12, SeqCheck::InOrder),
            (14, SeqCheck::Gap { missing: 1 }),
            (15, SeqCheck::InOrder),
            (15, SeqCheck::Regression),
            (16, SeqCheck::InOrder),
        ];
        for (seq, expected) in deltas {
            assert_eq!(tracker.on_delta(seq), expected, "seq {seq}");
        }
        tracker.on_snapshot(3);
        assert_eq!(tracker.on_delta(4), SeqCheck::InOrder);
    }
}
