//! The schedules half of the storage contract: each queue's session schedule (a cron that
//! rotates its shifts) and the rotation itself.
//!
//! A rotation is one transaction: it opens the queue's next session, completes every older
//! active or paused session whose items have all reached a terminal status (see
//! [`StatusMachine::is_terminal`](lineup_domain::StatusMachine::is_terminal)), leaves the others
//! to drain until a later rotation, and records the instant it ran for. Rotating again for an
//! instant already run is a no-op, so several scheduler nodes may race safely.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lineup_domain::{Session, SessionSchedule, SessionScheduleSpec, TenantId};
use uuid::Uuid;

use crate::StoreResult;

/// A schedule with the tenant it belongs to, as the scheduler lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueSchedule {
    pub tenant_id: TenantId,
    pub schedule: SessionSchedule,
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq)]
pub enum RotateOutcome {
    /// The schedule had already run for this instant (or later): nothing changed.
    AlreadyRan,
    /// A session was opened and the drained older sessions completed.
    Rotated {
        /// The session opened for this instant.
        opened: Session,
        /// Older sessions completed now (their items had all reached a terminal status).
        completed: Vec<Uuid>,
        /// Older sessions left active or paused because an item is still live.
        draining: Vec<Uuid>,
    },
}

/// The schedules half of the storage contract. Every method but
/// [`list_due_schedules`](ScheduleStore::list_due_schedules) is scoped by tenant: another
/// tenant's queue is `NotFound(Queue)`, a queue without a schedule `NotFound(SessionSchedule)`.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Creates or replaces the queue's schedule (validated by `SessionScheduleSpec::new`); a
    /// replaced schedule keeps its last run. The queue must be the tenant's.
    async fn put_session_schedule(
        &self,
        tenant: TenantId,
        queue_id: Uuid,
        spec: SessionScheduleSpec,
        now: DateTime<Utc>,
    ) -> StoreResult<SessionSchedule>;
    async fn get_session_schedule(&self, tenant: TenantId, queue_id: Uuid) -> StoreResult<SessionSchedule>;
    /// Removes the queue's schedule; sessions it opened stay.
    async fn delete_session_schedule(&self, tenant: TenantId, queue_id: Uuid) -> StoreResult<()>;
    /// Every tenant's schedules with a scheduled instant in `(last run or creation, now]`, by
    /// tenant and queue.
    async fn list_due_schedules(&self, now: DateTime<Utc>) -> StoreResult<Vec<DueSchedule>>;
    /// Rotates the queue's sessions for the scheduled instant `due_at` in one transaction:
    /// unless the schedule already ran for `due_at` or later, opens a session named `name`
    /// (like `create_session`), completes every older active or paused session with no item in
    /// a non-terminal status (emitting `session_completed`), and sets the last run to `due_at`.
    async fn rotate_session(
        &self,
        tenant: TenantId,
        queue_id: Uuid,
        due_at: DateTime<Utc>,
        name: String,
        now: DateTime<Utc>,
    ) -> StoreResult<RotateOutcome>;
}
