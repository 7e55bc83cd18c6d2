//! SLA targets, the live rolling-window breach monitor ([`SlaMonitor`]) and the historical
//! breach detector ([`breach_intervals`]).
//!
//! The level judged is the service level of [`crate::kpi`] in percent, computed exactly as
//! `100 × numerator / denominator` of [`service_level_ratio`] under the target's formula,
//! thresholds and exclusion. A level is *judged* only when at least `min_offered` calls were
//! offered (as [`Kpis::offered`](crate::kpi::Kpis::offered) counts them) and the level is defined;
//! an unjudged level never opens or closes a breach.
//!
//! Hysteresis: a breach **opens** when a judged level is below `service_level_percent` and
//! **closes** only when a judged level reaches `service_level_percent + recovery_margin_points`.
//! A level oscillating between the two thresholds keeps the current state, so it cannot flap.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::accumulate::{Tally, TallyRules};
use crate::bucket::{BucketTally, Granularity, Period};
use crate::error::AnalyticsError;
use crate::fact::CallFact;
use crate::kpi::{offered_calls, service_level_ratio, KpiOptions, ServiceLevelFormula};

fn default_recovery_margin_points() -> f64 {
    2.0
}

/// A queue's service-level objective, e.g. 80 % of calls answered within 20 s over the last hour.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SlaTarget {
    /// The target service level in percent, in `[0, 100]`.
    pub service_level_percent: f64,
    /// The service-level threshold T in seconds.
    pub threshold_secs: u32,
    /// How the service level is computed.
    pub formula: ServiceLevelFormula,
    /// The rolling window of the live monitor, in minutes (at least 1).
    pub window_minutes: u32,
    /// Fewer offered calls than this in a window or bucket: not judged.
    pub min_offered: u64,
    /// Points above target a breached level must reach to close the breach (default 2.0).
    #[serde(default = "default_recovery_margin_points")]
    pub recovery_margin_points: f64,
    /// The short-abandon threshold S in seconds (default 0: no short abandons).
    #[serde(default)]
    pub short_abandon_secs: u32,
    /// Whether short abandons are treated as never offered (default false).
    #[serde(default)]
    pub exclude_short_abandons: bool,
}

impl SlaTarget {
    /// The tally rules the target's levels are counted with.
    pub fn tally_rules(&self) -> TallyRules {
        TallyRules { service_level_secs: self.threshold_secs, short_abandon_secs: self.short_abandon_secs }
    }

    /// The KPI options the target's levels are read with.
    pub fn kpi_options(&self) -> KpiOptions {
        KpiOptions { formula: self.formula, exclude_short_abandons: self.exclude_short_abandons }
    }

    /// Checks the documented ranges: the target in `[0, 100]`, a finite non-negative margin and a
    /// window of at least a minute.
    pub fn validate(&self) -> Result<(), AnalyticsError> {
        if !(0.0..=100.0).contains(&self.service_level_percent) {
            return Err(AnalyticsError::InvalidInput("service_level_percent must be in [0, 100]".into()));
        }
        if !(self.recovery_margin_points.is_finite() && self.recovery_margin_points >= 0.0) {
            return Err(AnalyticsError::InvalidInput("recovery_margin_points must be finite and >= 0".into()));
        }
        if self.window_minutes == 0 {
            return Err(AnalyticsError::InvalidInput("window_minutes must be at least 1".into()));
        }
        Ok(())
    }

    /// The offered count and the level in percent of a tally; the level is `None` when not
    /// judged (too few offered calls, or an undefined ratio).
    pub fn judge(&self, tally: &Tally) -> (u64, Option<f64>) {
        let options = self.kpi_options();
        let offered = offered_calls(tally, &options);
        let level = service_level_ratio(tally, &options).percent().filter(|_| offered >= self.min_offered);
        (offered, level)
    }

    fn window(&self) -> TimeDelta {
        TimeDelta::minutes(i64::from(self.window_minutes))
    }
}

/// A breach began: the first judged level below target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BreachOpened {
    /// The evaluation time that opened it.
    pub at: DateTime<Utc>,
    /// The level (percent) that opened it.
    pub level_percent: f64,
}

/// A breach ended: the first judged level at or above target plus the recovery margin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BreachClosed {
    /// The evaluation time that closed it.
    pub at: DateTime<Utc>,
    /// When the breach opened.
    pub opened_at: DateTime<Utc>,
    /// The lowest judged level (percent) during the breach.
    pub worst_level_percent: f64,
}

/// A change of breach state, reported by the evaluation that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum SlaTransition {
    /// A breach opened.
    BreachOpened(BreachOpened),
    /// A breach closed.
    BreachClosed(BreachClosed),
}

/// The result of one evaluation of the rolling window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SlaStanding {
    /// The evaluation time.
    pub at: DateTime<Utc>,
    /// The window judged: calls that entered the queue in `[at − window, at)`.
    pub window: Period,
    /// Calls offered in the window.
    pub offered: u64,
    /// The level in percent; `None` when not judged.
    pub level_percent: Option<f64>,
    /// Whether a breach is open after this evaluation.
    pub in_breach: bool,
    /// When the open breach opened.
    pub breach_since: Option<DateTime<Utc>>,
    /// The transition this evaluation caused, if any.
    pub transition: Option<SlaTransition>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct OpenBreach {
    opened_at: DateTime<Utc>,
    worst_level_percent: f64,
}

/// The live breach monitor of one queue: fed finished calls, evaluated at times the caller
/// chooses, over the rolling window `[now − window, now)` of `entered_at`.
///
/// Calls count only once they are facts (finished), so a window's most recent minutes may still
/// lack calls that are waiting or talking. Evaluation times must not go backwards; facts that
/// entered before the window of the latest evaluation are dropped.
#[derive(Debug, Clone)]
pub struct SlaMonitor {
    target: SlaTarget,
    /// Facts by (entered_at, arrival number): out-of-order arrivals kept in time order.
    facts: BTreeMap<(DateTime<Utc>, u64), CallFact>,
    arrivals: u64,
    latest_evaluation: Option<DateTime<Utc>>,
    open_breach: Option<OpenBreach>,
}

impl SlaMonitor {
    /// A monitor with no calls and no breach; fails when the target is invalid.
    pub fn new(target: SlaTarget) -> Result<SlaMonitor, AnalyticsError> {
        target.validate()?;
        Ok(SlaMonitor { target, facts: BTreeMap::new(), arrivals: 0, latest_evaluation: None, open_breach: None })
    }

    /// Whether a breach is open.
    pub fn in_breach(&self) -> bool {
        self.open_breach.is_some()
    }

    /// Takes a finished call into account. Returns false (and ignores it) when it entered the
    /// queue before the window of the latest evaluation, where it can never count again.
    pub fn observe(&mut self, fact: &CallFact) -> bool {
        let too_old = self.latest_evaluation.is_some_and(|latest| fact.entered_at < latest - self.target.window());
        if too_old {
            return false;
        }
        self.facts.insert((fact.entered_at, self.arrivals), fact.clone());
        self.arrivals += 1;
        true
    }

    /// Judges the window ending at `now` and opens or closes a breach per the hysteresis rule
    /// of the [module docs](self). Fails, changing nothing, when `now` is before the latest
    /// evaluation.
    pub fn evaluate(&mut self, now: DateTime<Utc>) -> Result<SlaStanding, AnalyticsError> {
        if let Some(latest) = self.latest_evaluation.filter(|latest| now < *latest) {
            return Err(AnalyticsError::TimeWentBackwards { latest, now });
        }
        self.latest_evaluation = Some(now);
        let window = Period { from: now - self.target.window(), to: now };
        self.facts = self.facts.split_off(&(window.from, 0));
        let in_window = self.facts.range(..(window.to, 0)).map(|(_, fact)| fact);
        let tally = Tally::from_facts(self.target.tally_rules(), in_window);
        let (offered, level_percent) = self.target.judge(&tally);

        let mut transition = None;
        match (&mut self.open_breach, level_percent) {
            (None, Some(level)) if level < self.target.service_level_percent => {
                self.open_breach = Some(OpenBreach { opened_at: now, worst_level_percent: level });
                transition = Some(SlaTransition::BreachOpened(BreachOpened { at: now, level_percent: level }));
            }
            (Some(open), Some(level)) => {
                open.worst_level_percent = open.worst_level_percent.min(level);
                if level >= self.target.service_level_percent + self.target.recovery_margin_points {
                    transition = Some(SlaTransition::BreachClosed(BreachClosed {
                        at: now,
                        opened_at: open.opened_at,
                        worst_level_percent: open.worst_level_percent,
                    }));
                    self.open_breach = None;
                }
            }
            _ => {}
        }
        Ok(SlaStanding {
            at: now,
            window,
            offered,
            level_percent,
            in_breach: self.open_breach.is_some(),
            breach_since: self.open_breach.map(|open| open.opened_at),
            transition,
        })
    }
}

/// A run of consecutive buckets each judged below target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BreachInterval {
    /// The start of the first bucket below target.
    pub from: DateTime<Utc>,
    /// The end of the last bucket below target.
    pub to: DateTime<Utc>,
    /// The lowest bucket level in the run, in percent.
    pub worst_level_percent: f64,
    /// The number of buckets in the run.
    pub buckets: u32,
}

/// The historical breaches of a series of bucket tallies (e.g. from [`crate::bucket::series`]):
/// each bucket is judged on its own (no rolling window, no recovery margin), and adjacent buckets
/// judged below target merge into one interval. A bucket that meets the target, is not judged,
/// or is missing (a gap in time) ends a run.
///
/// Buckets must be in strictly ascending order of start and built with the target's rules.
pub fn breach_intervals(
    target: &SlaTarget,
    granularity: Granularity,
    buckets: &[BucketTally],
) -> Result<Vec<BreachInterval>, AnalyticsError> {
    target.validate()?;
    let mut intervals: Vec<BreachInterval> = Vec::new();
    let mut previous_start: Option<DateTime<Utc>> = None;
    for bucket in buckets {
        if bucket.tally.rules != target.tally_rules() {
            return Err(AnalyticsError::RulesDiffer { left: target.tally_rules(), right: bucket.tally.rules });
        }
        if previous_start.is_some_and(|previous| bucket.start <= previous) {
            return Err(AnalyticsError::InvalidInput("buckets must be in strictly ascending order".into()));
        }
        previous_start = Some(bucket.start);
        let end = bucket.start + granularity.length();
        let below = target.judge(&bucket.tally).1.filter(|level| *level < target.service_level_percent);
        match (below, intervals.last_mut()) {
            (Some(level), Some(run)) if run.to == bucket.start => {
                run.to = end;
                run.worst_level_percent = run.worst_level_percent.min(level);
                run.buckets += 1;
            }
            (Some(level), _) => {
                intervals.push(BreachInterval { from: bucket.start, to: end, worst_level_percent: level, buckets: 1 });
            }
            (None, _) => {}
        }
    }
    Ok(intervals)
}

#[cfg(test)]
mod tests;
