//! `/analytics`: reporting figures and planning — KPIs over a period from the pre-aggregated
//! tallies (with their series and the previous period), and Erlang C staffing (formulas in
//! `docs/METRICS.md`).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use lineup_analytics::{
    erlang, series, AgentTime, AnalyticsError, BucketTally, Granularity, KpiComparison, KpiOptions, Kpis, Period,
    ServiceLevelFormula, Tally, TallyRules,
};
use lineup_domain::TenantId;
use lineup_store::{AgentScope, StoreError, TallyFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{need, Authorized};
use crate::error::{ApiError, ApiResult, ProblemResponse};
use crate::extract::ApiQuery;
use crate::AppState;

/// The analytics routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/analytics/staffing", get(staffing)).route("/analytics/kpis", get(kpis))
}

/// Most buckets one report may have.
const MAX_BUCKETS: i64 = 10_000;

/// The thresholds of a report with no tally (the aggregator's defaults).
const DEFAULT_RULES: TallyRules = TallyRules { service_level_secs: 20, short_abandon_secs: 5 };

/// What to report on.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct KpiQuery {
    /// Start of the period (RFC 3339), on a 15-minute boundary.
    pub from: DateTime<Utc>,
    /// End of the period (exclusive), on a 15-minute boundary, after `from`.
    pub to: DateTime<Utc>,
    /// Bucket length of the series (default `hour`).
    #[param(value_type = Option<String>)]
    pub granularity: Option<Granularity>,
    /// One queue; all the tenant's queues when absent.
    pub queue_id: Option<Uuid>,
    /// One agent's answered calls (extension) instead of the queue-wide figures.
    pub agent: Option<String>,
    /// Service-level formula (default `answeredWithinOverOffered`).
    #[param(value_type = Option<String>)]
    pub formula: Option<ServiceLevelFormula>,
    /// Count short abandons as never offered (default false).
    pub exclude_short_abandons: Option<bool>,
    /// Also report the previous period of the same length and the deltas (default false).
    pub compare: Option<bool>,
}

/// One bucket of the series.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KpiBucket {
    pub start: DateTime<Utc>,
    pub kpis: Kpis,
}

/// KPIs over a period: the total, the series and, when asked, the previous period.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KpiReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub granularity: Granularity,
    pub total: Kpis,
    pub series: Vec<KpiBucket>,
    /// The period of equal length just before, when `compare=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<Kpis>,
    /// This period against the previous one, when `compare=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<KpiComparison>,
}

/// KPIs of a queue (or all queues, or one agent) over a period, read from the pre-aggregated
/// tallies of reconciled calls (a call counts in the 15 minutes it entered the queue), with a
/// dense series and optionally the previous period and the deltas.
#[utoipa::path(
    get, path = "/api/v1/analytics/kpis", tag = "analytics",
    params(KpiQuery),
    responses(
        (status = 200, description = "The report", body = KpiReport),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse),
    )
)]
pub async fn kpis(
    State(state): State<AppState>,
    auth: Authorized<need::AnalyticsRead>,
    ApiQuery(q): ApiQuery<KpiQuery>,
) -> ApiResult<Json<KpiReport>> {
    let tenant = auth.tenant();
    let granularity = q.granularity.unwrap_or(Granularity::Hour);
    let period = Period { from: q.from, to: q.to };
    check_period(&period, granularity)?;
    if let Some(queue) = q.queue_id {
        state.store.get_queue(tenant, queue).await?;
    }
    let options = KpiOptions {
        formula: q.formula.unwrap_or_default(),
        exclude_short_abandons: q.exclude_short_abandons.unwrap_or(false),
    };
    let tallies = read_tallies(&state, tenant, &q, &period).await?;
    let rules = tallies.last().map_or(DEFAULT_RULES, |t| t.tally.rules);
    let buckets = series(&period, granularity, rules, tallies).map_err(analytics_conflict)?;
    let total = merged(rules, buckets.iter().map(|b| &b.tally))?;
    let none = AgentTime::default();
    let series = buckets
        .iter()
        .map(|b| KpiBucket { start: b.start, kpis: Kpis::from_tally(&b.tally, &options, &none) })
        .collect();
    let total = Kpis::from_tally(&total, &options, &none);
    let (previous, comparison) = match q.compare.unwrap_or(false) {
        false => (None, None),
        true => {
            let before = period.previous();
            let tallies = read_tallies(&state, tenant, &q, &before).await?;
            let previous = merged(rules, tallies.iter().map(|b| &b.tally))?;
            let previous = Kpis::from_tally(&previous, &options, &none);
            let comparison = lineup_analytics::compare(&total, &previous);
            (Some(previous), Some(comparison))
        }
    };
    Ok(Json(KpiReport { from: q.from, to: q.to, granularity, total, series, previous, comparison }))
}

/// A period on 15-minute boundaries, not empty, of at most [`MAX_BUCKETS`] buckets.
fn check_period(period: &Period, granularity: Granularity) -> ApiResult<()> {
    let aligned = |t: DateTime<Utc>| t.timestamp_subsec_nanos() == 0 && t.timestamp().rem_euclid(900) == 0;
    if !aligned(period.from) || !aligned(period.to) {
        return Err(ApiError::InvalidQuery("from and to must be on 15-minute boundaries (UTC)".into()));
    }
    if period.to <= period.from {
        return Err(ApiError::InvalidQuery("to must be after from".into()));
    }
    if period.length().num_seconds() / granularity.secs() > MAX_BUCKETS {
        return Err(ApiError::InvalidQuery(format!("at most {MAX_BUCKETS} buckets: choose a coarser granularity")));
    }
    Ok(())
}

/// The stored tallies of the query's scope in `period`.
async fn read_tallies(
    state: &AppState,
    tenant: TenantId,
    q: &KpiQuery,
    period: &Period,
) -> ApiResult<Vec<BucketTally>> {
    let filter = TallyFilter {
        queue_ids: q.queue_id.into_iter().collect(),
        agents: q.agent.clone().map_or(AgentScope::Queue, AgentScope::Agent),
        from: period.from,
        to: period.to,
    };
    let stored = state.store.list_tallies(tenant, &filter).await?;
    stored
        .into_iter()
        .map(|row| {
            let tally: Tally = serde_json::from_value(row.tally)
                .map_err(|e| StoreError::Backend(format!("a stored tally does not parse: {e}")))?;
            Ok(BucketTally { start: row.bucket_start, tally })
        })
        .collect()
}

/// The merge of `tallies` (all of `rules`).
fn merged<'a>(rules: TallyRules, tallies: impl IntoIterator<Item = &'a Tally>) -> ApiResult<Tally> {
    let mut total = Tally::empty(rules);
    for tally in tallies {
        total.merge(tally).map_err(analytics_conflict)?;
    }
    Ok(total)
}

/// Tallies counted with other thresholds than the period's others (the thresholds changed and
/// the aggregator has not recounted every bucket yet).
fn analytics_conflict(e: AnalyticsError) -> ApiError {
    ApiError::Store(StoreError::Conflict(format!(
        "the period mixes tallies counted with different thresholds ({e}); try again once the aggregator has \
         recounted them"
    )))
}

/// A forecast and a target to staff for.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StaffingQuery {
    /// Calls expected in the interval.
    pub calls_per_interval: f64,
    /// Length of the interval in seconds (default 1800: half an hour).
    pub interval_secs: Option<f64>,
    /// Average handle time in seconds (talk + hold + wrap-up).
    pub aht_secs: f64,
    /// Answer-time threshold of the service level, in seconds (default 20).
    pub target_secs: Option<f64>,
    /// Share of calls to answer within the threshold, a fraction in [0, 1) (default 0.8).
    pub target_service_level: Option<f64>,
    /// Highest occupancy (traffic / agents) to accept, a fraction in (0, 1].
    pub max_occupancy: Option<f64>,
}

/// What one staffing level gives.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StaffingLevel {
    pub agents: u32,
    /// Share of calls answered within the threshold (0 when the agents can't keep up).
    pub service_level: f64,
    /// Probability that a call waits at all (Erlang C).
    pub probability_of_waiting: f64,
    /// Average speed of answer over all calls, seconds; absent when the agents can't keep up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_speed_of_answer_secs: Option<f64>,
    /// Traffic / agents.
    pub occupancy: f64,
}

/// The agents needed for the target, and the levels around it to compare.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StaffingPlan {
    /// Offered load in Erlangs: calls × AHT / interval.
    pub traffic_erlangs: f64,
    /// The fewest agents meeting the target (and the occupancy cap, when given).
    pub agents_needed: u32,
    /// The levels from two agents fewer to three more than needed (never below one agent).
    pub levels: Vec<StaffingLevel>,
}

/// Erlang C staffing: the fewest agents that answer the target share of the expected calls
/// within the threshold, with the service level, chance of waiting, average speed of answer and
/// occupancy of nearby staffing levels.
#[utoipa::path(
    get, path = "/api/v1/analytics/staffing", tag = "analytics",
    params(StaffingQuery),
    responses(
        (status = 200, description = "The staffing plan", body = StaffingPlan),
        (status = 400, response = ProblemResponse),
        (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse),
    )
)]
pub async fn staffing(
    _auth: Authorized<need::AnalyticsRead>,
    ApiQuery(q): ApiQuery<StaffingQuery>,
) -> ApiResult<Json<StaffingPlan>> {
    plan(&q).map(Json).map_err(|e| ApiError::InvalidQuery(e.to_string()))
}

/// The plan for a query (pure).
fn plan(q: &StaffingQuery) -> Result<StaffingPlan, AnalyticsError> {
    let interval = q.interval_secs.unwrap_or(1800.0);
    let target = q.target_secs.unwrap_or(20.0);
    let level = q.target_service_level.unwrap_or(0.8);
    let traffic = erlang::traffic_erlangs(q.calls_per_interval, interval, q.aht_secs)?;
    let needed = erlang::agents_needed(q.calls_per_interval, interval, q.aht_secs, target, level, q.max_occupancy)?;
    let per_hour = q.calls_per_interval * 3600.0 / interval;
    let levels = (needed.saturating_sub(2).max(1)..=needed + 3)
        .map(|agents| {
            Ok(StaffingLevel {
                agents,
                service_level: erlang::service_level(per_hour, q.aht_secs, agents, target)?,
                probability_of_waiting: erlang::erlang_c(traffic, agents)?,
                average_speed_of_answer_secs: erlang::asa(per_hour, q.aht_secs, agents)?,
                occupancy: traffic / f64::from(agents),
            })
        })
        .collect::<Result<Vec<_>, AnalyticsError>>()?;
    Ok(StaffingPlan { traffic_erlangs: traffic, agents_needed: needed, levels })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(calls: f64, aht: f64, max_occupancy: Option<f64>) -> StaffingQuery {
        StaffingQuery {
            calls_per_interval: calls,
            interval_secs: None,
            aht_secs: aht,
            target_secs: None,
            target_service_level: None,
            max_occupancy,
        }
    }

    #[test]
    fn the_classic_forecast_needs_54_agents_for_80_percent_in_20_seconds() {
        // 360 calls in half an hour at 240 s: 48 Erlangs (Erlang C tables: 54 agents, 81.7 %).
        let plan = plan(&query(360.0, 240.0, None)).unwrap();
        assert!((plan.traffic_erlangs - 48.0).abs() < 1e-9);
        assert_eq!(plan.agents_needed, 54);
        let agents: Vec<u32> = plan.levels.iter().map(|l| l.agents).collect();
        assert_eq!(agents, vec![52, 53, 54, 55, 56, 57]);
        let at = |n: u32| plan.levels.iter().find(|l| l.agents == n).unwrap().clone();
        assert!((at(54).service_level - 0.8172).abs() < 5e-4, "{:?}", at(54));
        assert!(at(53).service_level < 0.8);
        assert!((at(55).average_speed_of_answer_secs.unwrap() - 8.18).abs() < 0.01, "{:?}", at(55));
    }

    #[test]
    fn an_occupancy_cap_adds_agents_and_levels_start_at_one_agent() {
        assert!(plan(&query(360.0, 240.0, Some(0.85))).unwrap().agents_needed > 54);
        let small = plan(&query(1.0, 60.0, None)).unwrap();
        assert_eq!(small.levels.first().unwrap().agents, 1);
    }

    #[test]
    fn impossible_inputs_are_refused() {
        assert!(plan(&query(-1.0, 240.0, None)).is_err());
        assert!(plan(&query(10.0, 0.0, None)).is_err());
        let mut q = query(10.0, 240.0, None);
        q.target_service_level = Some(1.0);
        assert!(plan(&q).is_err());
    }
}
