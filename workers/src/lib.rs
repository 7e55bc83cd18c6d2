//! Lineup's ingestion workers: what connects a 3CX to the queue core.
//!
//! - [`poller`]: polls `ActiveCalls` of one PBX connection, diffs consecutive snapshots into
//!   observations and records them in the inbox.
//! - [`reconciler`]: reads `CallHistoryView` and `ReportCallLogData` on a schedule from a
//!   persisted checkpoint with an overlap window, recording what they tell in the inbox.
//! - [`processor`]: claims inbox messages (per-call order, leases, retries, dead letters) and
//!   applies them to the calls and their queue items through the store, settling each message in
//!   the same transaction.
//! - [`scheduler`]: rotates each queue's sessions (shifts) on its cron schedule.
//! - [`supervisor`]: starts and stops the per-connection workers as connections are added,
//!   changed or disabled, each connection under a lease so one node polls it at a time.
//! - [`health`]: what each worker last did, for `/readyz` and metrics.
//!
//! This crate owns scheduling and IO against 3CX and the store. It must not decide call rules
//! (`lineup-domain::call` does) nor write SQL (the store does).

pub mod aggregate;
pub mod aggregator;
pub mod clock;
pub mod connection;
pub mod dispatcher;
pub mod health;
pub mod metrics;
pub mod poller;
pub mod presence;
pub mod processor;
pub mod provision;
pub mod reconciler;
pub mod scheduler;
pub mod supervisor;
pub mod ticker;

pub use health::{Health, WorkerStatus};
pub use processor::{InboxProcessor, ProcessorConfig};
pub use supervisor::{Supervisor, SupervisorConfig};
