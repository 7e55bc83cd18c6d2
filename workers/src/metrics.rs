//! The names of the workers' Prometheus metrics (recorded with the `metrics` facade; the binary
//! installs the exporter).

/// Counter: `ActiveCalls` polls, labelled `connection` and `result` (`ok` | `error`).
pub const POLLS: &str = "lineup_polls_total";
/// Histogram: seconds one poll took (request and enqueue).
pub const POLL_SECONDS: &str = "lineup_poll_duration_seconds";
/// Counter: observations recorded in the inbox, labelled `source` and `result` (`new` | `duplicate`).
pub const OBSERVATIONS: &str = "lineup_observations_total";
/// Counter: reconciler runs, labelled `reader` (`history` | `call-log`) and `result`.
pub const RECONCILE_RUNS: &str = "lineup_reconcile_runs_total";
/// Counter: inbox messages processed, labelled `result` (`applied` | `unchanged` | `failed` | `lease_lost`).
pub const INBOX_PROCESSED: &str = "lineup_inbox_processed_total";
/// Gauge: inbox messages pending.
pub const INBOX_PENDING: &str = "lineup_inbox_pending";
/// Gauge: inbox messages in flight.
pub const INBOX_IN_FLIGHT: &str = "lineup_inbox_in_flight";
/// Gauge: dead letters waiting for an operator.
pub const DEAD_LETTERS: &str = "lineup_inbox_dead_letters";
/// Gauge: seconds since the oldest pending inbox message was enqueued.
pub const INBOX_LAG: &str = "lineup_inbox_lag_seconds";
/// Histogram: seconds from an observation entering the inbox to its application with its outbox rows.
pub const APPLY_LAG: &str = "lineup_observation_apply_lag_seconds";
/// Gauge: 1 while this node holds a connection's lease, labelled `connection`.
pub const LEASE_HELD: &str = "lineup_pbx_lease_held";
/// Gauge: seconds since the oldest outbox event not yet dispatched to webhooks was committed (0
/// when the dispatcher is caught up).
pub const OUTBOX_LAG: &str = "lineup_outbox_lag_seconds";
/// Counter: webhook delivery attempts, labelled `result` (`delivered` | `retry` | `failed` |
/// `stale` | `error`: the attempt could not be recorded).
pub const WEBHOOK_DELIVERIES: &str = "lineup_webhook_deliveries_total";
/// Counter: sessions the session scheduler opened by rotating a queue's shift.
pub const SESSIONS_ROTATED: &str = "lineup_sessions_rotated_total";
