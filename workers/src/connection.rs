//! One PBX connection as the workers use it: its XAPI client (secret opened from its sealed
//! form), the DNs it maps, and how observations become inbox messages.

use std::collections::BTreeSet;

use anyhow::Context;
use lineup_domain::call::{Observation, Source};
use lineup_domain::pbx::client_secret_context;
use lineup_domain::TenantId;
use lineup_security::SecretBox;
use lineup_store::{DynStore, EnabledPbxConnection, Enqueued, InboxSource, NewInboxMessage, StoreResult};
use tokio::sync::Notify;

use crate::metrics as m;
use lineup_xapi::{XapiClient, XapiConfig};
use uuid::Uuid;

/// What a worker needs of one connection.
#[derive(Clone)]
pub struct PbxLink {
    pub tenant: TenantId,
    pub connection_id: Uuid,
    pub name: String,
    pub client: XapiClient,
    /// The 3CX queue DNs the connection maps to Lineup queues.
    pub queue_dns: BTreeSet<String>,
    /// The base poll interval.
    pub poll_interval: std::time::Duration,
}

impl PbxLink {
    /// Opens the connection's secret with `secrets` and builds its client; `configure` may adjust
    /// the client configuration (timeouts, retries) first.
    pub fn open(
        enabled: &EnabledPbxConnection,
        secrets: &SecretBox,
        configure: impl FnOnce(&mut XapiConfig),
    ) -> anyhow::Result<PbxLink> {
        let c = &enabled.connection;
        let secret = secrets
            .open(&enabled.client_secret.sealed, &client_secret_context(c.id))
            .with_context(|| format!("opening the client secret of PBX connection {}", c.id))?;
        let mut config = XapiConfig::new(c.base_url.clone(), c.client_id.clone(), secret.as_str());
        configure(&mut config);
        let client = XapiClient::new(config).with_context(|| format!("XAPI client of PBX connection {}", c.id))?;
        Ok(PbxLink {
            tenant: enabled.tenant_id,
            connection_id: c.id,
            name: c.name.clone(),
            client,
            queue_dns: c.queue_mappings.iter().map(|m| m.dn.clone()).collect(),
            poll_interval: std::time::Duration::from_millis(u64::from(c.poll_interval_ms)),
        })
    }
}

/// The inbox source of an observation's source.
pub fn inbox_source(source: Source) -> InboxSource {
    match source {
        Source::Poller => InboxSource::Poller,
        Source::History => InboxSource::History,
        Source::CallLog => InboxSource::CallLog,
    }
}

/// The inbox message recording an observation: keyed by the call (per-call order) and by the
/// observation's dedup key (a repeat is refused), carrying the observation as JSON.
pub fn inbox_message(observation: &Observation) -> NewInboxMessage {
    NewInboxMessage {
        connection_id: observation.call.connection,
        source: inbox_source(observation.source),
        call_key: observation.call.call_id.to_string(),
        dedup_key: observation.dedup_key.clone(),
        payload: serde_json::to_value(observation).expect("an observation serialises"),
        observed_at: observation.at,
    }
}

/// Observations recorded per inbox transaction.
const RECORD_CHUNK: usize = 500;

/// Records `observations` (all from one source) in the inbox of `tenant`, in order, in chunks of
/// one transaction each; counts them in the metrics and wakes the processor when any was new.
/// Returns how many were new (the rest were repeats).
pub async fn record_observations(
    store: &DynStore,
    tenant: TenantId,
    observations: &[Observation],
    inbox_ready: &Notify,
) -> StoreResult<usize> {
    let Some(first) = observations.first() else { return Ok(0) };
    let source = first.source.as_str();
    let mut recorded = 0;
    for chunk in observations.chunks(RECORD_CHUNK) {
        let results = store.enqueue_many(tenant, chunk.iter().map(inbox_message).collect()).await?;
        recorded += results.iter().filter(|r| matches!(r, Enqueued::New(_))).count();
    }
    metrics::counter!(m::OBSERVATIONS, "source" => source, "result" => "new").increment(recorded as u64);
    metrics::counter!(m::OBSERVATIONS, "source" => source, "result" => "duplicate")
        .increment((observations.len() - recorded) as u64);
    if recorded > 0 {
        inbox_ready.notify_one();
    }
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use lineup_domain::call::{CallKey, ObservationKind};

    use super::*;

    #[test]
    fn a_message_round_trips_its_observation_and_keys_it_by_call() {
        let call = CallKey { connection: Uuid::new_v4(), call_id: 42 };
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let obs = Observation::new(call, Source::Poller, at, ObservationKind::Ringing { agent_dn: "101".into() });
        let m = inbox_message(&obs);
        assert_eq!((m.call_key.as_str(), m.source, m.connection_id), ("42", InboxSource::Poller, call.connection));
        assert_eq!(m.dedup_key, obs.dedup_key);
        let back: Observation = serde_json::from_value(m.payload).unwrap();
        assert_eq!(back, obs);
    }
}
