//! One channel of one tenant as the hub publishes it: its sequence number, the last published
//! document, the recent deltas and the broadcast subscribers listen on.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::channel::ChannelId;
use crate::config::LiveConfig;
use crate::frame::Frame;
use crate::patch;
use crate::state::TenantLive;

/// A published channel. Invariant: applying the deltas in `history` in order to the document
/// as of `history.front().seq - 1` yields `published`, the document as of `seq`.
pub(crate) struct ChannelFeed {
    id: ChannelId,
    label: String,
    seq: u64,
    published: Value,
    snapshot: Option<Arc<Frame>>,
    history: VecDeque<Arc<Frame>>,
    history_limit: usize,
    sender: broadcast::Sender<Arc<Frame>>,
    /// Live subscriptions (kept by their guards).
    pub subscribers: usize,
    dirty: bool,
    /// When the oldest change not yet published was committed, when known.
    pending_since: Option<DateTime<Utc>>,
    valid_until: Option<DateTime<Utc>>,
    /// Frames built so far, deltas and snapshots.
    pub frames_built: u64,
}

impl ChannelFeed {
    /// A feed whose document as of seq 0 is `channel` rendered at `now`.
    pub fn new(id: ChannelId, live: &TenantLive, now: DateTime<Utc>, config: &LiveConfig) -> ChannelFeed {
        let rendered = live.render(&id, now);
        let (sender, _) = broadcast::channel(config.subscriber_buffer.max(1));
        ChannelFeed {
            label: id.to_string(),
            id,
            seq: 0,
            published: rendered.document,
            snapshot: None,
            history: VecDeque::new(),
            history_limit: config.history,
            sender,
            subscribers: 0,
            dirty: false,
            pending_since: None,
            valid_until: rendered.valid_until,
            frames_built: 0,
        }
    }

    /// The sequence number of the last published delta.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Notes that an input, committed at `changed_at` when known, may have changed the channel.
    pub fn mark_dirty(&mut self, changed_at: Option<DateTime<Utc>>) {
        self.dirty = true;
        if let Some(at) = changed_at {
            self.pending_since = Some(self.pending_since.map_or(at, |t| t.min(at)));
        }
    }

    /// Renders the channel again if an input or the passing of time may have changed it and,
    /// when the document differs from the published one, publishes the delta. Returns true when
    /// it published.
    pub fn refresh(&mut self, live: &TenantLive, now: DateTime<Utc>) -> bool {
        let expired = self.valid_until.is_some_and(|until| until <= now);
        if !self.dirty && !expired {
            return false;
        }
        let rendered = live.render(&self.id, now);
        self.dirty = false;
        let changed_at = self.pending_since.take();
        self.valid_until = rendered.valid_until;
        let Some(patch) = patch::diff(&self.published, &rendered.document) else {
            return false;
        };
        self.seq += 1;
        self.published = rendered.document;
        self.snapshot = None;
        let frame = Arc::new(Frame::delta(self.label.clone(), self.seq, patch, changed_at));
        self.frames_built += 1;
        self.history.push_back(frame.clone());
        while self.history.len() > self.history_limit {
            self.history.pop_front();
        }
        // Without receivers `send` fails; the delta stays in history for resuming subscribers.
        let _ = self.sender.send(frame);
        true
    }

    /// A snapshot of the published document, built once per seq and shared.
    pub fn snapshot(&mut self) -> Arc<Frame> {
        if let Some(frame) = &self.snapshot {
            return frame.clone();
        }
        let frame = Arc::new(Frame::snapshot(self.label.clone(), self.seq, self.published.clone()));
        self.frames_built += 1;
        self.snapshot = Some(frame.clone());
        frame
    }

    /// A receiver of the deltas published from now on.
    pub fn receiver(&self) -> broadcast::Receiver<Arc<Frame>> {
        self.sender.subscribe()
    }

    /// What a subscriber that has the document as of `since` needs to reach the published one:
    /// nothing when it is current, the missed deltas when history still holds them all, else a
    /// snapshot (no `since`, too old, or ahead of this feed, e.g. after a restart).
    pub fn frames_since(&mut self, since: Option<u64>) -> Vec<Arc<Frame>> {
        match since {
            Some(since) if since == self.seq => Vec::new(),
            Some(since) if since < self.seq && self.history.front().is_some_and(|f| f.seq <= since + 1) => {
                self.history.iter().filter(|f| f.seq > since).cloned().collect()
            }
            _ => vec![self.snapshot()],
        }
    }
}
