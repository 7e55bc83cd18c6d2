//! Period-over-period comparison of [`Kpis`] (this week against last week, and so on).
//!
//! For each figure, with `c` the current and `p` the previous value:
//! - `absolute = c − p` (for ratios, in fraction points: 0.80 → 0.85 is `+0.05`);
//! - `relative = (c − p) / |p|` as a fraction (`+0.25` is 25 % more);
//!
//! `absolute` is `None` when either value is `None`; `relative` also when `p` is zero.

use serde::{Deserialize, Serialize};

use crate::kpi::Kpis;

/// One figure in two periods and how it moved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Delta {
    /// The figure in the current period.
    pub current: Option<f64>,
    /// The figure in the previous period.
    pub previous: Option<f64>,
    /// `current − previous`; `None` when either is `None`.
    pub absolute: Option<f64>,
    /// `(current − previous) / |previous|`; `None` when either is `None` or `previous` is zero.
    pub relative: Option<f64>,
}

impl Delta {
    /// How a figure moved from `previous` to `current`.
    pub fn between(current: Option<f64>, previous: Option<f64>) -> Delta {
        let absolute = current.zip(previous).map(|(c, p)| c - p);
        let relative = absolute.zip(previous).filter(|(_, p)| *p != 0.0).map(|(change, p)| change / p.abs());
        Delta { current, previous, absolute, relative }
    }
}

/// Every comparable figure of [`Kpis`] with its [`Delta`]; field names match `Kpis`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct KpiComparison {
    /// Calls offered.
    pub offered: Delta,
    /// Calls answered.
    pub answered: Delta,
    /// Calls abandoned.
    pub abandoned: Delta,
    /// Short abandons.
    pub short_abandoned: Delta,
    /// Calls overflowed.
    pub overflowed: Delta,
    /// Calls dropped.
    pub dropped: Delta,
    /// Service level (fraction).
    pub service_level: Delta,
    /// Abandon rate (fraction).
    pub abandon_rate: Delta,
    /// Average speed of answer (ms).
    pub average_speed_of_answer_ms: Delta,
    /// Average wait (ms).
    pub average_wait_ms: Delta,
    /// Median answered wait (s).
    pub answered_wait_p50: Delta,
    /// 90th percentile answered wait (s).
    pub answered_wait_p90: Delta,
    /// Longest wait (s).
    pub longest_wait_secs: Delta,
    /// Average handle time (ms).
    pub average_handle_time_ms: Delta,
    /// Transfers.
    pub transfers: Delta,
    /// Callbacks.
    pub callbacks: Delta,
    /// Occupancy (fraction).
    pub occupancy: Delta,
    /// Utilisation (fraction).
    pub utilisation: Delta,
    /// Calls per agent hour.
    pub calls_per_agent_hour: Delta,
}

/// Compares two periods' figures, each by [`Delta::between`].
pub fn compare(current: &Kpis, previous: &Kpis) -> KpiComparison {
    let count = |of: fn(&Kpis) -> u64| Delta::between(Some(of(current) as f64), Some(of(previous) as f64));
    let ratio = |of: fn(&Kpis) -> Option<f64>| Delta::between(of(current), of(previous));
    let secs = |of: fn(&Kpis) -> Option<u32>| Delta::between(of(current).map(f64::from), of(previous).map(f64::from));
    KpiComparison {
        offered: count(|k| k.offered),
        answered: count(|k| k.answered),
        abandoned: count(|k| k.abandoned),
        short_abandoned: count(|k| k.short_abandoned),
        overflowed: count(|k| k.overflowed),
        dropped: count(|k| k.dropped),
        service_level: ratio(|k| k.service_level),
        abandon_rate: ratio(|k| k.abandon_rate),
        average_speed_of_answer_ms: ratio(|k| k.average_speed_of_answer_ms),
        average_wait_ms: ratio(|k| k.average_wait_ms),
        answered_wait_p50: secs(|k| k.answered_wait_percentiles.p50),
        answered_wait_p90: secs(|k| k.answered_wait_percentiles.p90),
        longest_wait_secs: secs(|k| k.longest_wait_secs),
        average_handle_time_ms: ratio(|k| k.average_handle_time_ms),
        transfers: count(|k| k.transfers),
        callbacks: count(|k| k.callbacks),
        occupancy: ratio(|k| k.occupancy),
        utilisation: ratio(|k| k.utilisation),
        calls_per_agent_hour: ratio(|k| k.calls_per_agent_hour),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accumulate::{Tally, TallyRules};
    use crate::kpi::{AgentTime, KpiOptions};

    #[test]
    fn deltas_are_absolute_and_relative_and_undefined_without_a_base() {
        // (current, previous, absolute, relative)
        let cases = [
            (Some(120.0), Some(100.0), Some(20.0), Some(0.2)),
            (Some(75.0), Some(100.0), Some(-25.0), Some(-0.25)),
            (Some(5.0), Some(0.0), Some(5.0), None),
            (Some(-1.0), Some(-2.0), Some(1.0), Some(0.5)),
            (None, Some(1.0), None, None),
            (Some(1.0), None, None, None),
        ];
        for (current, previous, absolute, relative) in cases {
            assert_eq!(
                Delta::between(current, previous),
                Delta { current, previous, absolute, relative },
                "{current:?} vs {previous:?}"
            );
        }
    }

    #[test]
    fn comparing_against_an_empty_period_leaves_ratios_undefined() {
        let rules = TallyRules { service_level_secs: 20, short_abandon_secs: 5 };
        let empty = Kpis::from_tally(&Tally::empty(rules), &KpiOptions::default(), &AgentTime::default());
        let mut busy = empty.clone();
        busy.offered = 10;
        busy.service_level = Some(0.9);
        let comparison = compare(&busy, &empty);
        assert_eq!(comparison.offered, Delta::between(Some(10.0), Some(0.0)));
        assert_eq!(comparison.offered.relative, None);
        assert_eq!(comparison.service_level.absolute, None);
    }
}
