//! [`Kpis`]: the figures a report shows, computed from a [`Tally`] and the agents' time.
//!
//! Conventions for every figure here:
//! - ratios are fractions in `[0, 1]` (0.8 is 80 %), `Option<f64>`, `None` when the denominator
//!   is zero: never NaN, never infinite;
//! - durations are milliseconds (averages) or whole seconds (percentiles, longest wait);
//! - "within T" means a counted wait of at most `T × 1000` ms, "short abandon" an abandoned call
//!   that waited strictly less than `S × 1000` ms (see [`TallyRules`]).
//!
//! With [`KpiOptions::exclude_short_abandons`], short abandons are treated as if they had never
//! been offered. Exactly these figures change: `offered` and `abandoned` (minus short abandons),
//! `abandoned_within_threshold` (minus short abandons within T), `service_level` (through those),
//! `abandon_rate`, `average_wait_ms`, `wait_percentiles` and `longest_wait_secs` (short abandons'
//! waits left out). Unchanged: `short_abandoned` (always the count of short abandons),
//! `answered`, `overflowed`, `dropped`, `answered_within_threshold`, the speed of answer and
//! answered-wait percentiles, handle times, `transfers`, `callbacks` and the agent figures.

use serde::{Deserialize, Serialize};

use crate::accumulate::{Tally, TallyRules, WaitPopulation};

/// How the service level is computed; `A≤T` is answered within T, `B≤T` abandoned within T.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum ServiceLevelFormula {
    /// `A≤T / offered`: every call that entered counts against the target.
    #[default]
    AnsweredWithinOverOffered,
    /// `A≤T / (offered − short abandons)`: callers who hung up quickly don't count. With
    /// short abandons excluded (already gone from offered) this equals the first formula.
    AnsweredWithinOverOfferedLessShortAbandons,
    /// `A≤T / answered`: only answered calls are judged; abandons don't lower it.
    AnsweredWithinOverAnswered,
    /// `(A≤T + B≤T) / offered`: a call abandoned within T counts as served in time.
    AnsweredAndAbandonedWithinOverOffered,
}

/// The per-queue choices of how the KPIs read a tally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct KpiOptions {
    /// The service-level formula.
    pub formula: ServiceLevelFormula,
    /// Treat short abandons as never offered (see the [module docs](self) for what changes).
    pub exclude_short_abandons: bool,
}

/// Time agents spent, summed over the agents a report covers; all zero when unknown, which
/// makes every agent figure `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AgentTime {
    /// Time logged in to the queue, in ms.
    pub logged_in_ms: u64,
    /// Time logged in and free to take a call, in ms.
    pub available_ms: u64,
    /// Time on calls: talk + hold + wrap-up, in ms.
    pub busy_ms: u64,
    /// Time logged in but paused, in ms.
    pub paused_ms: u64,
}

impl AgentTime {
    /// Adds another agent's (or period's) time to this one.
    pub fn add(&mut self, other: &AgentTime) {
        self.logged_in_ms += other.logged_in_ms;
        self.available_ms += other.available_ms;
        self.busy_ms += other.busy_ms;
        self.paused_ms += other.paused_ms;
    }
}

/// An exact ratio of two counts, kept as integers so thresholds compare without rounding
/// surprises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Ratio {
    /// The counted part.
    pub numerator: u64,
    /// The whole; the ratio is undefined when it is zero.
    pub denominator: u64,
}

impl Ratio {
    /// `numerator / denominator` as a fraction; `None` when the denominator is zero.
    pub fn fraction(&self) -> Option<f64> {
        (self.denominator > 0).then(|| self.numerator as f64 / self.denominator as f64)
    }

    /// `100 × numerator / denominator` (computed as `(100·n) / d`, exact for whole percentages);
    /// `None` when the denominator is zero.
    pub fn percent(&self) -> Option<f64> {
        (self.denominator > 0).then(|| (self.numerator as f64 * 100.0) / self.denominator as f64)
    }
}

/// The service level of a tally as an exact ratio, per the options' formula and exclusion (see
/// [`ServiceLevelFormula`]; with exclusion, offered and `B≤T` lose their short abandons).
pub fn service_level_ratio(tally: &Tally, options: &KpiOptions) -> Ratio {
    let counts = CountsForKpis::of(tally, options);
    let numerator = match options.formula {
        ServiceLevelFormula::AnsweredAndAbandonedWithinOverOffered => {
            tally.answered_within_threshold + counts.abandoned_within_threshold
        }
        _ => tally.answered_within_threshold,
    };
    let denominator = match options.formula {
        ServiceLevelFormula::AnsweredWithinOverOffered | ServiceLevelFormula::AnsweredAndAbandonedWithinOverOffered => {
            counts.offered
        }
        ServiceLevelFormula::AnsweredWithinOverOfferedLessShortAbandons => counts.offered - counts.short_abandoned,
        ServiceLevelFormula::AnsweredWithinOverAnswered => tally.answered,
    };
    Ratio { numerator, denominator }
}

/// The calls offered as the KPIs count them: every call, minus short abandons when they are
/// excluded ([`Kpis::offered`]).
pub fn offered_calls(tally: &Tally, options: &KpiOptions) -> u64 {
    CountsForKpis::of(tally, options).offered
}

/// The counts that the short-abandon exclusion changes, after applying it.
struct CountsForKpis {
    offered: u64,
    abandoned: u64,
    abandoned_within_threshold: u64,
    /// Short abandons still in `offered` (zero once excluded).
    short_abandoned: u64,
    sum_wait_ms: u64,
    wait_population: WaitPopulation,
}

impl CountsForKpis {
    fn of(tally: &Tally, options: &KpiOptions) -> CountsForKpis {
        if options.exclude_short_abandons {
            CountsForKpis {
                offered: tally.offered - tally.short_abandoned,
                abandoned: tally.abandoned - tally.short_abandoned,
                abandoned_within_threshold: tally.abandoned_within_threshold - tally.short_abandoned_within_threshold,
                short_abandoned: 0,
                sum_wait_ms: tally.sum_wait_ms_all - tally.sum_wait_ms_short_abandoned,
                wait_population: WaitPopulation::AllCallsButShortAbandons,
            }
        } else {
            CountsForKpis {
                offered: tally.offered,
                abandoned: tally.abandoned,
                abandoned_within_threshold: tally.abandoned_within_threshold,
                short_abandoned: tally.short_abandoned,
                sum_wait_ms: tally.sum_wait_ms_all,
                wait_population: WaitPopulation::AllCalls,
            }
        }
    }
}

/// The percentiles reported for a wait population, in whole seconds, by the nearest-rank
/// definition of [`Tally::wait_percentile_secs`]; `None` for an empty population.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WaitPercentiles {
    /// Median wait.
    pub p50: Option<u32>,
    /// 80th percentile.
    pub p80: Option<u32>,
    /// 90th percentile.
    pub p90: Option<u32>,
    /// 95th percentile.
    pub p95: Option<u32>,
}

impl WaitPercentiles {
    /// The percentiles of one population of a tally.
    pub fn of(tally: &Tally, population: WaitPopulation) -> WaitPercentiles {
        let at = |p: f64| tally.wait_percentile_secs(population, p);
        WaitPercentiles { p50: at(50.0), p80: at(80.0), p90: at(90.0), p95: at(95.0) }
    }
}

/// The figures of a report; see the [module docs](self) for conventions. Each field's doc gives
/// its exact formula over the tally's counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Kpis {
    /// The thresholds the figures were counted with.
    pub rules: TallyRules,
    /// The formula and exclusion the figures were read with.
    pub options: KpiOptions,
    /// Calls offered: every call that entered the queue (minus short abandons when excluded).
    pub offered: u64,
    /// Calls answered.
    pub answered: u64,
    /// Calls abandoned (minus short abandons when excluded).
    pub abandoned: u64,
    /// Short abandons: abandoned with a wait under S, whether excluded or not.
    pub short_abandoned: u64,
    /// Calls overflowed.
    pub overflowed: u64,
    /// Calls dropped.
    pub dropped: u64,
    /// Answered within T (`A≤T`).
    pub answered_within_threshold: u64,
    /// Abandoned within T (`B≤T`; minus short abandons within T when excluded).
    pub abandoned_within_threshold: u64,
    /// The service level as a fraction, by `options.formula` (see [`ServiceLevelFormula`]).
    pub service_level: Option<f64>,
    /// `abandoned / offered` (both as reported above).
    pub abandon_rate: Option<f64>,
    /// Average speed of answer: `sum of answered waits / answered`, in ms.
    pub average_speed_of_answer_ms: Option<f64>,
    /// Average wait of all offered calls: `sum of their waits / offered`, in ms.
    pub average_wait_ms: Option<f64>,
    /// Percentiles of the waits of answered calls.
    pub answered_wait_percentiles: WaitPercentiles,
    /// Percentiles of the waits of all offered calls.
    pub wait_percentiles: WaitPercentiles,
    /// The longest wait of all offered calls in whole seconds (truncated).
    pub longest_wait_secs: Option<u32>,
    /// Average handle time: `(talk + hold + wrap of answered calls) / answered`, in ms.
    pub average_handle_time_ms: Option<f64>,
    /// `talk of answered calls / answered`, in ms.
    pub average_talk_ms: Option<f64>,
    /// `hold of answered calls / answered`, in ms.
    pub average_hold_ms: Option<f64>,
    /// `wrap-up of answered calls / answered`, in ms.
    pub average_wrap_ms: Option<f64>,
    /// Calls flagged transferred.
    pub transfers: u64,
    /// Calls flagged callback.
    pub callbacks: u64,
    /// The agent time the agent figures were computed from.
    pub agent_time: AgentTime,
    /// Occupancy: `busy / (busy + available)`.
    pub occupancy: Option<f64>,
    /// Utilisation: `busy / logged_in`.
    pub utilisation: Option<f64>,
    /// Calls per agent hour: `answered × 3 600 000 / logged_in_ms`.
    pub calls_per_agent_hour: Option<f64>,
}

/// `numerator / denominator`, `None` for a zero denominator.
pub(crate) fn fraction(numerator: u64, denominator: u64) -> Option<f64> {
    Ratio { numerator, denominator }.fraction()
}

/// `answered × 3 600 000 / logged_in_ms`, `None` when nobody was logged in.
pub(crate) fn calls_per_hour(answered: u64, logged_in_ms: u64) -> Option<f64> {
    (logged_in_ms > 0).then(|| answered as f64 * 3_600_000.0 / logged_in_ms as f64)
}

impl Kpis {
    /// The figures of a tally read with the given options, plus the agent figures of `agent_time`
    /// (pass `AgentTime::default()` when unknown).
    pub fn from_tally(tally: &Tally, options: &KpiOptions, agent_time: &AgentTime) -> Kpis {
        let counts = CountsForKpis::of(tally, options);
        let handled_ms = tally.sum_talk_ms + tally.sum_hold_ms + tally.sum_wrap_ms;
        Kpis {
            rules: tally.rules,
            options: *options,
            offered: counts.offered,
            answered: tally.answered,
            abandoned: counts.abandoned,
            short_abandoned: tally.short_abandoned,
            overflowed: tally.overflowed,
            dropped: tally.dropped,
            answered_within_threshold: tally.answered_within_threshold,
            abandoned_within_threshold: counts.abandoned_within_threshold,
            service_level: service_level_ratio(tally, options).fraction(),
            abandon_rate: fraction(counts.abandoned, counts.offered),
            average_speed_of_answer_ms: fraction(tally.sum_wait_ms_answered, tally.answered),
            average_wait_ms: fraction(counts.sum_wait_ms, counts.offered),
            answered_wait_percentiles: WaitPercentiles::of(tally, WaitPopulation::Answered),
            wait_percentiles: WaitPercentiles::of(tally, counts.wait_population),
            longest_wait_secs: tally.longest_wait_secs(counts.wait_population),
            average_handle_time_ms: fraction(handled_ms, tally.answered),
            average_talk_ms: fraction(tally.sum_talk_ms, tally.answered),
            average_hold_ms: fraction(tally.sum_hold_ms, tally.answered),
            average_wrap_ms: fraction(tally.sum_wrap_ms, tally.answered),
            transfers: tally.transfers,
            callbacks: tally.callbacks,
            agent_time: *agent_time,
            occupancy: fraction(agent_time.busy_ms, agent_time.busy_ms + agent_time.available_ms),
            utilisation: fraction(agent_time.busy_ms, agent_time.logged_in_ms),
            calls_per_agent_hour: calls_per_hour(tally.answered, agent_time.logged_in_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use uuid::Uuid;

    use super::*;
    use crate::fact::{CallFact, Outcome};

    const RULES: TallyRules = TallyRules { service_level_secs: 20, short_abandon_secs: 5 };

    fn fact(outcome: Outcome, wait_secs: i64) -> CallFact {
        CallFact {
            queue: Uuid::nil(),
            agent: None,
            team: None,
            entered_at: DateTime::UNIX_EPOCH,
            answered_at: None,
            left_queue_at: None,
            ended_at: None,
            wait_ms: wait_secs * 1000,
            talk_ms: if outcome == Outcome::Answered { 100_000 } else { 0 },
            hold_ms: 0,
            wrap_ms: if outcome == Outcome::Answered { 20_000 } else { 0 },
            outcome,
            transferred: false,
            callback: false,
        }
    }

    /// 10 calls: 6 answered (4 within 20 s), 3 abandoned (2 short, 1 after 30 s), 1 overflowed.
    fn ten_calls() -> Tally {
        use Outcome::*;
        let waits = [
            (Answered, 5),
            (Answered, 10),
            (Answered, 15),
            (Answered, 20),
            (Answered, 40),
            (Answered, 60),
            (Abandoned, 2),
            (Abandoned, 3),
            (Abandoned, 30),
            (Overflowed, 120),
        ];
        Tally::from_facts(RULES, &waits.map(|(outcome, secs)| fact(outcome, secs)))
    }

    #[test]
    fn service_level_formulas_give_their_documented_ratios() {
        use ServiceLevelFormula::*;
        // (formula, exclude short abandons, numerator, denominator)
        let cases = [
            (AnsweredWithinOverOffered, false, 4, 10),
            (AnsweredWithinOverOfferedLessShortAbandons, false, 4, 8),
            (AnsweredWithinOverAnswered, false, 4, 6),
            (AnsweredAndAbandonedWithinOverOffered, false, 6, 10),
            (AnsweredWithinOverOffered, true, 4, 8),
            (AnsweredWithinOverOfferedLessShortAbandons, true, 4, 8),
            (AnsweredWithinOverAnswered, true, 4, 6),
            (AnsweredAndAbandonedWithinOverOffered, true, 4, 8),
        ];
        let tally = ten_calls();
        for (formula, exclude_short_abandons, numerator, denominator) in cases {
            let options = KpiOptions { formula, exclude_short_abandons };
            assert_eq!(
                service_level_ratio(&tally, &options),
                Ratio { numerator, denominator },
                "{formula:?}, exclude {exclude_short_abandons}"
            );
        }
    }

    #[test]
    fn kpis_of_ten_calls_match_hand_computation() {
        let agent_time =
            AgentTime { logged_in_ms: 7_200_000, available_ms: 3_000_000, busy_ms: 3_000_000, paused_ms: 1_200_000 };
        let kpis = Kpis::from_tally(&ten_calls(), &KpiOptions::default(), &agent_time);
        assert_eq!((kpis.offered, kpis.answered, kpis.abandoned, kpis.short_abandoned), (10, 6, 3, 2));
        assert_eq!(kpis.service_level, Some(0.4));
        assert_eq!(kpis.abandon_rate, Some(0.3));
        assert_eq!(kpis.average_speed_of_answer_ms, Some(25_000.0)); // (5+10+15+20+40+60)/6 s
        assert_eq!(kpis.average_wait_ms, Some(30_500.0)); // 305 s / 10
        assert_eq!(kpis.longest_wait_secs, Some(120));
        assert_eq!(kpis.average_handle_time_ms, Some(120_000.0));
        let answered = WaitPercentiles { p50: Some(15), p80: Some(40), p90: Some(60), p95: Some(60) };
        assert_eq!(kpis.answered_wait_percentiles, answered);
        // All waits sorted: 2 3 5 10 15 20 30 40 60 120.
        let all = WaitPercentiles { p50: Some(15), p80: Some(40), p90: Some(60), p95: Some(120) };
        assert_eq!(kpis.wait_percentiles, all);
        assert_eq!(kpis.occupancy, Some(0.5));
        assert_eq!(kpis.utilisation, Some(3_000_000.0 / 7_200_000.0));
        assert_eq!(kpis.calls_per_agent_hour, Some(3.0));
    }

    #[test]
    fn excluding_short_abandons_changes_only_the_documented_figures() {
        let tally = ten_calls();
        let included = Kpis::from_tally(&tally, &KpiOptions::default(), &AgentTime::default());
        let options = KpiOptions { exclude_short_abandons: true, ..KpiOptions::default() };
        let excluded = Kpis::from_tally(&tally, &options, &AgentTime::default());
        assert_eq!((excluded.offered, excluded.abandoned, excluded.short_abandoned), (8, 1, 2));
        assert_eq!(excluded.abandoned_within_threshold, 0);
        assert_eq!(excluded.service_level, Some(0.5));
        assert_eq!(excluded.abandon_rate, Some(0.125));
        assert_eq!(excluded.average_wait_ms, Some(37_500.0)); // 300 s / 8
                                                              // Remaining waits: 5 10 15 20 30 40 60 120.
        let all = WaitPercentiles { p50: Some(20), p80: Some(60), p90: Some(120), p95: Some(120) };
        assert_eq!(excluded.wait_percentiles, all);
        let unchanged = Kpis {
            options,
            offered: excluded.offered,
            abandoned: excluded.abandoned,
            abandoned_within_threshold: excluded.abandoned_within_threshold,
            service_level: excluded.service_level,
            abandon_rate: excluded.abandon_rate,
            average_wait_ms: excluded.average_wait_ms,
            wait_percentiles: excluded.wait_percentiles,
            longest_wait_secs: excluded.longest_wait_secs,
            ..included
        };
        assert_eq!(excluded, unchanged);
    }

    #[test]
    fn an_empty_tally_has_no_ratios_and_no_nan() {
        let kpis = Kpis::from_tally(&Tally::empty(RULES), &KpiOptions::default(), &AgentTime::default());
        let ratios = [
            kpis.service_level,
            kpis.abandon_rate,
            kpis.average_speed_of_answer_ms,
            kpis.average_wait_ms,
            kpis.average_handle_time_ms,
            kpis.occupancy,
            kpis.utilisation,
            kpis.calls_per_agent_hour,
        ];
        assert_eq!(ratios, [None; 8]);
        assert_eq!(kpis.longest_wait_secs, None);
    }

    #[test]
    fn ratios_render_as_fraction_and_percent() {
        let cases =
            [((4, 5), Some(0.8), Some(80.0)), ((1, 3), Some(1.0 / 3.0), Some(100.0 / 3.0)), ((0, 0), None, None)];
        for ((numerator, denominator), fraction, percent) in cases {
            let ratio = Ratio { numerator, denominator };
            assert_eq!((ratio.fraction(), ratio.percent()), (fraction, percent), "{numerator}/{denominator}");
        }
    }
}
