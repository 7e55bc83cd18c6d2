//! Lineup's reporting maths: what the call-centre figures are and how they are computed.
//!
//! The crate is pure: no IO, no database, no async, no clock (callers pass `now`), no
//! randomness. It knows nothing of Lineup's domain types; the integrator maps finished call
//! records into [`CallFact`]s. Every figure is defined in a doc comment precisely enough to be
//! copied into the metrics documentation.
//!
//! The pieces, from the bottom up:
//! - [`fact`]: the input, one finished call ([`CallFact`]), counted in the bucket it *entered the
//!   queue* in;
//! - [`accumulate`]: [`Tally`], the exact, mergeable, removable pre-aggregate (counters, sums and
//!   whole-second wait histograms), built under [`TallyRules`] (service-level and short-abandon
//!   thresholds);
//! - [`kpi`]: [`Kpis`] read from a tally (service level by [`ServiceLevelFormula`], ASA, waits
//!   and percentiles, handle time, abandon rate, agent occupancy and utilisation);
//! - [`recompute`]: the same KPIs straight from facts, the ground truth tallies are tested
//!   against;
//! - [`bucket`]: UTC time buckets, periods and dense series; [`compare`](mod@compare): period-over-period
//!   deltas;
//! - [`sla`]: SLA targets, the live rolling-window breach monitor and historical breaches;
//! - [`congestion`]: congestion alerts against thresholds and the queue's normal, with hysteresis;
//! - [`ranking`]: agent ranking by a weighted, explained score;
//! - [`erlang`]: Erlang B/C staffing maths.
//!
//! Every public data type serialises with camelCase names; with the `openapi` feature the report
//! types also derive `utoipa::ToSchema`. Errors are one enum, [`AnalyticsError`].

#![warn(missing_docs)]

pub mod accumulate;
pub mod bucket;
pub mod compare;
pub mod congestion;
pub mod erlang;
pub mod error;
pub mod fact;
pub mod kpi;
pub mod ranking;
pub mod recompute;
pub mod sla;

pub use accumulate::{nearest_rank, tally_by, Tally, TallyRules, WaitHistogram, WaitPopulation};
pub use bucket::{bucket_start, previous_period, series, BucketTally, Granularity, Period};
pub use compare::{compare, Delta, KpiComparison};
pub use congestion::{CongestionDetector, CongestionEvent, CongestionRule, Normal, QueueSample};
pub use error::AnalyticsError;
pub use fact::{CallFact, Outcome};
pub use kpi::{
    offered_calls, service_level_ratio, AgentTime, KpiOptions, Kpis, Ratio, ServiceLevelFormula, WaitPercentiles,
};
pub use ranking::{rank_agents, AgentPerformance, RankedAgent, ScoreWeights};
pub use recompute::recompute_kpis;
pub use sla::{breach_intervals, BreachInterval, SlaMonitor, SlaStanding, SlaTarget, SlaTransition};
