//! The `ActiveCalls` poller of one PBX connection.
//!
//! Every cycle reads `GET /ActiveCalls`, turns the rows into snapshots, diffs them against the
//! previous snapshot ([`diff_active_calls`]) and records the observations in the inbox in one
//! batch (a repeat is a no-op there). Times come from the PBX: `ServerNow` of the rows, or, when
//! the PBX shows no call, the PBX clock estimated from the last reading.
//!
//! The interval adapts: the connection's interval while calls are live, stretching (doubling up
//! to [`PollerConfig::idle_max`]) while the PBX is idle, and backing off after errors up to
//! [`PollerConfig::error_max`].
//!
//! Every [`PollerConfig::presence_every`] it also reads `GET /Users` (and every
//! [`PollerConfig::members_every`] the queues' members): the agent extensions tell an agent from
//! "elsewhere" in `Callee`, and the users' queue status and presence profile are stored as the
//! connection's agents ([`crate::presence`]) for the live hub. A failed presence read keeps the
//! last one (only the very first read of the extensions is required to poll).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lineup_domain::call::{diff_active_calls, ActiveCallSnapshot};
use lineup_store::DynStore;
use lineup_xapi::generated::types::ActiveCall;
use lineup_xapi::Query;
use tokio::sync::{watch, Notify};

use crate::clock::PbxClock;
use crate::connection::{record_observations, PbxLink};
use crate::health::Health;
use crate::metrics as m;
use crate::presence;

/// How a poller paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollerConfig {
    /// The longest interval while the PBX shows no call.
    pub idle_max: Duration,
    /// The longest interval after consecutive errors.
    pub error_max: Duration,
    /// How often the users (agent extensions and presence) are read again.
    pub presence_every: Duration,
    /// How often the queues' members are read again.
    pub members_every: Duration,
}

impl Default for PollerConfig {
    fn default() -> Self {
        PollerConfig {
            idle_max: Duration::from_secs(5),
            error_max: Duration::from_secs(30),
            presence_every: Duration::from_secs(5),
            members_every: Duration::from_secs(300),
        }
    }
}

/// The next interval: the base while busy, doubling while idle (up to `idle_max`) or failing (up
/// to `error_max`).
pub fn next_interval(base: Duration, current: Duration, busy: bool, failed: bool, config: &PollerConfig) -> Duration {
    if failed {
        (current.max(base) * 2).min(config.error_max.max(base))
    } else if busy {
        base
    } else {
        (current.max(base) * 2).min(config.idle_max.max(base))
    }
}

/// A row as the differ needs it; rows without an id are skipped, missing times are `server_now`.
pub fn snapshot_of(row: &ActiveCall, server_now: DateTime<Utc>) -> Option<ActiveCallSnapshot> {
    Some(ActiveCallSnapshot {
        id: row.id?,
        caller: row.caller.clone().unwrap_or_default(),
        callee: row.callee.clone().unwrap_or_default(),
        status: row.status.clone().unwrap_or_default(),
        last_change_status: row.last_change_status.unwrap_or(server_now),
        established_at: row.established_at.or(row.last_change_status).unwrap_or(server_now),
    })
}

/// One poller; [`Poller::run`] loops until `stop` turns true.
pub struct Poller {
    link: PbxLink,
    store: DynStore,
    health: Health,
    clock: PbxClock,
    inbox_ready: Arc<Notify>,
    config: PollerConfig,
    previous: Vec<ActiveCallSnapshot>,
    agents: BTreeSet<String>,
    users_read: Option<Instant>,
    members: BTreeMap<String, Vec<String>>,
    members_read: Option<Instant>,
}

/// What one cycle did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollOutcome {
    /// Calls the PBX showed.
    pub live_calls: usize,
    /// Observations new to the inbox.
    pub recorded: usize,
    /// Observations the inbox already had.
    pub duplicates: usize,
}

impl Poller {
    pub fn new(
        link: PbxLink,
        store: DynStore,
        health: Health,
        clock: PbxClock,
        inbox_ready: Arc<Notify>,
        config: PollerConfig,
    ) -> Poller {
        Poller {
            link,
            store,
            health,
            clock,
            inbox_ready,
            config,
            previous: Vec::new(),
            agents: BTreeSet::new(),
            users_read: None,
            members: BTreeMap::new(),
            members_read: None,
        }
    }

    /// The worker's name in health reports.
    pub fn name(&self) -> String {
        format!("poller:{}", self.link.connection_id)
    }

    /// Polls until `stop` is true (or its sender is dropped).
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let name = self.name();
        self.health.register(&name);
        let base = self.link.poll_interval;
        let mut interval = base;
        let connection = self.link.connection_id.to_string();
        loop {
            if *stop.borrow() {
                break;
            }
            let started = Instant::now();
            let outcome = self.poll_once().await;
            let elapsed = started.elapsed();
            metrics::histogram!(m::POLL_SECONDS).record(elapsed.as_secs_f64());
            let now = Utc::now();
            match &outcome {
                Ok(o) => {
                    metrics::counter!(m::POLLS, "connection" => connection.clone(), "result" => "ok").increment(1);
                    self.health.success(&name, now, Some(i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)));
                    interval = next_interval(base, interval, o.live_calls > 0 || o.recorded > 0, false, &self.config);
                }
                Err(e) => {
                    metrics::counter!(m::POLLS, "connection" => connection.clone(), "result" => "error").increment(1);
                    tracing::warn!(connection = %self.link.connection_id, error = %e, "ActiveCalls poll failed");
                    self.health.failure(&name, now, &format!("{e:#}"));
                    interval = next_interval(base, interval, false, true, &self.config);
                }
            }
            let wait = interval.saturating_sub(elapsed);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                changed = stop.changed() => if changed.is_err() { break },
            }
        }
        self.health.remove(&name);
    }

    /// Reads the users (and, when due, the queues' members), keeps the agent extensions and
    /// stores the agents' presence.
    async fn read_presence(&mut self) -> anyhow::Result<()> {
        let client = &self.link.client;
        if self.members_read.is_none_or(|t| t.elapsed() >= self.config.members_every) {
            match presence::read_members(client).await {
                Ok(members) => (self.members, self.members_read) = (members, Some(Instant::now())),
                Err(e) => tracing::warn!(error = %e, "reading the queues' members failed; keeping the last list"),
            }
        }
        let users = presence::read_users(client).await.map_err(|e| anyhow::Error::new(e).context("reading /Users"))?;
        let agents = presence::agents_of(&users, &self.members);
        self.agents = agents.iter().map(|a| a.dn.clone()).collect();
        self.users_read = Some(Instant::now());
        let (tenant, connection) = (self.link.tenant, self.link.connection_id);
        self.store
            .sync_pbx_agents(tenant, connection, &agents, Utc::now())
            .await
            .map_err(|e| anyhow::Error::new(e).context("storing agent presence"))?;
        Ok(())
    }

    /// One cycle: read, diff, record.
    pub async fn poll_once(&mut self) -> anyhow::Result<PollOutcome> {
        if self.users_read.is_none_or(|t| t.elapsed() >= self.config.presence_every) {
            if let Err(e) = self.read_presence().await {
                // Without the extensions every agent looks like "elsewhere": do not guess.
                if self.users_read.is_none() {
                    return Err(e);
                }
                tracing::warn!(error = %e, "refreshing agent presence failed; keeping the last reading");
            }
        }
        let client = &self.link.client;
        let rows = client
            .collect_all(Query::new(), |c, q| async move { c.list_active_calls(&q).await })
            .await
            .map_err(|e| anyhow::Error::new(e).context("reading /ActiveCalls"))?;
        let server_now = rows.iter().filter_map(|r| r.server_now).max().or_else(|| self.clock.now());
        let Some(server_now) = server_now else {
            // No call and no clock reading yet: nothing to stamp an observation with, and nothing
            // to observe (the previous snapshot is empty too).
            return Ok(PollOutcome::default());
        };
        self.clock.observe(server_now);
        let current: Vec<ActiveCallSnapshot> = rows.iter().filter_map(|r| snapshot_of(r, server_now)).collect();
        let observations = diff_active_calls(
            self.link.connection_id,
            &self.previous,
            &current,
            server_now,
            &self.link.queue_dns,
            &self.agents,
        );
        let mut outcome = PollOutcome { live_calls: current.len(), ..PollOutcome::default() };
        outcome.recorded = record_observations(&self.store, self.link.tenant, &observations, &self.inbox_ready).await?;
        outcome.duplicates = observations.len() - outcome.recorded;
        self.previous = current;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_the_base_while_busy_and_stretches_while_idle_or_failing() {
        let c = PollerConfig::default();
        let base = Duration::from_secs(1);
        assert_eq!(next_interval(base, Duration::from_secs(4), true, false, &c), base);
        assert_eq!(next_interval(base, base, false, false, &c), Duration::from_secs(2));
        assert_eq!(next_interval(base, Duration::from_secs(4), false, false, &c), Duration::from_secs(5));
        assert_eq!(next_interval(base, Duration::from_secs(20), false, true, &c), Duration::from_secs(30));
        let slow = Duration::from_secs(60);
        assert_eq!(next_interval(slow, slow, false, false, &c), slow, "never faster than the base");
    }

    #[test]
    fn rows_without_an_id_are_skipped_and_missing_times_are_server_now() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(snapshot_of(&ActiveCall::default(), now), None);
        let row = ActiveCall { id: Some(5), callee: Some("800 Sales".into()), ..ActiveCall::default() };
        let s = snapshot_of(&row, now).unwrap();
        assert_eq!((s.id, s.last_change_status, s.established_at), (5, now, now));
    }
}
