//! A subscriber's view of one channel: the frames to send first, the live receiver, and the
//! bookkeeping that turns a lag into a snapshot instead of a gap.

use std::sync::{Arc, Mutex};

use lineup_domain::TenantId;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use super::{lock, Hub, TenantHub};
use crate::channel::ChannelId;
use crate::frame::{Frame, FrameKind};

/// A subscription to one channel of one tenant, counted by the hub until dropped.
///
/// Use [`Subscription::next`] to read it: it hands out `initial` first, then the deltas from
/// `receiver`, skipping any already covered and resyncing with a snapshot on lag, so the frames
/// it returns always apply in order without a gap. Reading `receiver` directly is possible but
/// leaves lag handling to the caller.
pub struct Subscription {
    /// The frames that bring the subscriber up to date, in order: nothing, the missed deltas, or
    /// one snapshot. [`Subscription::next`] removes them as it hands them out.
    pub initial: Vec<Arc<Frame>>,
    /// The channel's deltas published after the subscription was made.
    pub receiver: broadcast::Receiver<Arc<Frame>>,
    tenant: TenantId,
    channel: ChannelId,
    last_seq: u64,
    resyncs: u64,
    _guard: SubscriberGuard,
}

impl Subscription {
    pub(super) fn new(
        tenant: TenantId,
        channel: ChannelId,
        initial: Vec<Arc<Frame>>,
        receiver: broadcast::Receiver<Arc<Frame>>,
        seq: u64,
        guard: SubscriberGuard,
    ) -> Subscription {
        Subscription { initial, receiver, tenant, channel, last_seq: seq, resyncs: 0, _guard: guard }
    }

    /// The tenant subscribed to.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// The channel subscribed to.
    pub fn channel(&self) -> &ChannelId {
        &self.channel
    }

    /// The seq of the document the subscriber has once it applied everything handed out so far
    /// (including all of `initial`).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// How many times this subscription lagged and resynced with a snapshot.
    pub fn resyncs(&self) -> u64 {
        self.resyncs
    }

    /// The next frame to send: the next of `initial`, else the next delta after
    /// [`Subscription::last_seq`]. When the receiver lagged (or a delta is missing) it returns a
    /// fresh snapshot as [`Hub::snapshot`] makes it instead, with a new receiver positioned right
    /// after it, and carries on from there. `None` once the hub is gone.
    pub async fn next(&mut self, hub: &Hub) -> Option<Arc<Frame>> {
        if !self.initial.is_empty() {
            return Some(self.initial.remove(0));
        }
        loop {
            match self.receiver.recv().await {
                Ok(frame) if frame.seq <= self.last_seq => continue,
                Ok(frame) if frame.kind == FrameKind::Delta && frame.seq == self.last_seq + 1 => {
                    self.last_seq = frame.seq;
                    return Some(frame);
                }
                Ok(_) | Err(RecvError::Lagged(_)) => return Some(self.resync(hub)),
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// Replaces everything buffered with a fresh snapshot and a receiver positioned right after
    /// it (stale buffered frames would make the receiver lag again).
    fn resync(&mut self, hub: &Hub) -> Arc<Frame> {
        let (frame, receiver) = hub.resync(self.tenant, &self.channel);
        tracing::debug!(channel = %self.channel, seq = frame.seq, "live subscriber lagged; resyncing");
        self.receiver = receiver;
        self.last_seq = frame.seq;
        self.resyncs += 1;
        frame
    }
}

/// Counts a subscription on its channel's feed for as long as it lives.
pub(super) struct SubscriberGuard {
    tenant: Arc<Mutex<TenantHub>>,
    channel: ChannelId,
}

impl SubscriberGuard {
    /// Takes over a count the caller already added to the feed.
    pub(super) fn new(tenant: Arc<Mutex<TenantHub>>, channel: ChannelId) -> SubscriberGuard {
        SubscriberGuard { tenant, channel }
    }
}

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        let mut tenant = lock(&self.tenant);
        if let Some(feed) = tenant.feeds.get_mut(&self.channel) {
            feed.subscribers = feed.subscribers.saturating_sub(1);
        }
    }
}
