//! Lineup's live-state hub: what is happening in a tenant's call-centre queues right now.
//!
//! This crate owns the in-memory live state of every tenant's queues (calls waiting, ringing and
//! talking, agents and their states, open items by status, today's counters), its rendering into
//! JSON documents called *channels* (`overview`, `queue:{id}`, `agent:{dn}`), and their fan-out to
//! subscribers: one snapshot, then coalesced JSON Merge Patch deltas with a per-channel sequence
//! number, at most [`LiveConfig::max_rate_per_second`] per channel.
//!
//! The pieces, from the bottom up:
//! - [`input`]: the facts the hub is fed ([`LiveInput`]);
//! - [`state`]: the pure per-tenant state ([`TenantLive`]), idempotent and order-tolerant;
//! - [`document`] and [`render`]: the typed channel documents and how state becomes them;
//! - [`channel`]: channel ids; [`patch`]: RFC 7386 merge patches; [`frame`]: the wire frames;
//! - [`hub`]: the tokio side ([`Hub`], [`Subscription`]).
//!
//! It must not do IO: no HTTP, no database, no files. The API crate frames its [`Frame`]s over
//! SSE or WebSocket and another piece feeds it [`LiveInput`]s from the database. Only the hub
//! reads the clock; the state and rendering take `now` as an argument.

pub mod channel;
pub mod config;
pub mod document;
pub mod frame;
pub mod hub;
pub mod input;
pub mod patch;
pub mod render;
pub mod state;

pub use channel::{ChannelId, ChannelIdError};
pub use config::LiveConfig;
pub use frame::{Frame, FrameKind};
pub use hub::{Hub, HubStats, Subscription};
pub use input::{AgentPresence, CallUpdate, ItemInfo, LiveInput, QueueInfo};
pub use render::Rendered;
pub use state::{Affected, AgentState, AgentStatus, TenantLive};
