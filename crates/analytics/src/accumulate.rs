//! [`Tally`]: an exact, mergeable summary of a set of [`CallFact`]s, the pre-aggregate row.
//!
//! A tally is a bag of plain integer counters and sums plus three sparse wait histograms at
//! 1-second resolution. Everything in it is exact and additive, so:
//! - tallies of disjoint sets of facts merge into the tally of their union, in any order;
//! - [`Tally::remove`] undoes [`Tally::add`] exactly (corrected records are re-aggregated by
//!   removing the old version and adding the new one);
//! - the longest wait is not stored but read from the histograms, so it survives removal
//!   (at whole-second resolution, like the percentiles).
//!
//! The thresholds that decide "within service level" and "short abandon" are inputs
//! ([`TallyRules`]); a tally remembers its rules and refuses to merge with a tally built with
//! other rules.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::AnalyticsError;
use crate::fact::{CallFact, Outcome};

/// The thresholds a tally is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TallyRules {
    /// The service-level threshold T: a call waited "within T" when its counted wait is at most
    /// `T × 1000` ms (exactly 20.000 s is within 20 s; 20.001 s is not).
    pub service_level_secs: u32,
    /// The short-abandon threshold S: an abandoned call is a short abandon when its counted wait
    /// is strictly less than `S × 1000` ms. `0` means no call is a short abandon.
    pub short_abandon_secs: u32,
}

impl TallyRules {
    /// Whether the fact's counted wait is at most the service-level threshold (any outcome).
    pub fn waited_within_threshold(&self, fact: &CallFact) -> bool {
        fact.counted_wait_ms() <= u64::from(self.service_level_secs) * 1000
    }

    /// Whether the fact is an abandoned call whose counted wait is under the short-abandon
    /// threshold.
    pub fn is_short_abandon(&self, fact: &CallFact) -> bool {
        fact.outcome == Outcome::Abandoned && fact.counted_wait_ms() < u64::from(self.short_abandon_secs) * 1000
    }
}

/// Sparse wait histogram: whole seconds waited → number of calls. Bins are never zero.
pub type WaitHistogram = BTreeMap<u32, u64>;

/// Which calls a wait statistic is taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum WaitPopulation {
    /// Answered calls only (speed of answer).
    Answered,
    /// Every offered call, whatever its outcome.
    AllCalls,
    /// Every offered call except short abandons.
    AllCallsButShortAbandons,
}

/// An exact, mergeable summary of a set of finished calls; see the [module docs](self).
///
/// Every field is a plain integer (or a sparse histogram of them) so the tally can be stored as
/// a JSON document or as columns. All sums are over counted durations (see
/// [`CallFact::counted_wait_ms`]). A deserialised tally is trusted as stored: it should come from
/// this type's own serialisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    /// The thresholds the counters below were built with.
    pub rules: TallyRules,
    /// Calls that entered the queue (every fact counts once).
    pub offered: u64,
    /// Calls answered by an agent.
    pub answered: u64,
    /// Calls abandoned by the caller (short abandons included).
    pub abandoned: u64,
    /// Abandoned calls that waited less than the short-abandon threshold.
    pub short_abandoned: u64,
    /// Calls the queue sent elsewhere.
    pub overflowed: u64,
    /// Calls lost without a caller decision.
    pub dropped: u64,
    /// Answered calls that waited within the service-level threshold.
    pub answered_within_threshold: u64,
    /// Abandoned calls (short ones included) that waited within the service-level threshold.
    pub abandoned_within_threshold: u64,
    /// Short abandons that waited within the service-level threshold.
    pub short_abandoned_within_threshold: u64,
    /// Sum of the waits of answered calls, in ms (for the average speed of answer).
    pub sum_wait_ms_answered: u64,
    /// Sum of the waits of all calls, in ms.
    pub sum_wait_ms_all: u64,
    /// Sum of the waits of short abandons, in ms.
    pub sum_wait_ms_short_abandoned: u64,
    /// Sum of talk time of answered calls, in ms (unanswered calls' durations are not counted).
    pub sum_talk_ms: u64,
    /// Sum of hold time of answered calls, in ms.
    pub sum_hold_ms: u64,
    /// Sum of wrap-up time of answered calls, in ms.
    pub sum_wrap_ms: u64,
    /// Calls flagged `transferred` (any outcome).
    pub transfers: u64,
    /// Calls flagged `callback` (any outcome).
    pub callbacks: u64,
    /// Whole-second waits of answered calls.
    pub answered_waits: WaitHistogram,
    /// Whole-second waits of abandoned calls (short ones included).
    pub abandoned_waits: WaitHistogram,
    /// Whole-second waits of overflowed and dropped calls.
    pub other_waits: WaitHistogram,
}

const COUNTERS: usize = 17;

impl Tally {
    /// The tally of no calls.
    pub fn empty(rules: TallyRules) -> Tally {
        Tally {
            rules,
            offered: 0,
            answered: 0,
            abandoned: 0,
            short_abandoned: 0,
            overflowed: 0,
            dropped: 0,
            answered_within_threshold: 0,
            abandoned_within_threshold: 0,
            short_abandoned_within_threshold: 0,
            sum_wait_ms_answered: 0,
            sum_wait_ms_all: 0,
            sum_wait_ms_short_abandoned: 0,
            sum_talk_ms: 0,
            sum_hold_ms: 0,
            sum_wrap_ms: 0,
            transfers: 0,
            callbacks: 0,
            answered_waits: WaitHistogram::new(),
            abandoned_waits: WaitHistogram::new(),
            other_waits: WaitHistogram::new(),
        }
    }

    /// The tally of the given facts.
    pub fn from_facts<'a>(rules: TallyRules, facts: impl IntoIterator<Item = &'a CallFact>) -> Tally {
        let mut tally = Tally::empty(rules);
        for fact in facts {
            tally.add(fact);
        }
        tally
    }

    /// The tally of exactly one fact; adding, removing and merging are all defined through it.
    fn of_one(rules: TallyRules, fact: &CallFact) -> Tally {
        let mut one = Tally::empty(rules);
        let wait = fact.counted_wait_ms();
        let within = u64::from(rules.waited_within_threshold(fact));
        one.offered = 1;
        one.sum_wait_ms_all = wait;
        one.transfers = u64::from(fact.transferred);
        one.callbacks = u64::from(fact.callback);
        let histogram = match fact.outcome {
            Outcome::Answered => {
                one.answered = 1;
                one.answered_within_threshold = within;
                one.sum_wait_ms_answered = wait;
                one.sum_talk_ms = fact.counted_talk_ms();
                one.sum_hold_ms = fact.counted_hold_ms();
                one.sum_wrap_ms = fact.counted_wrap_ms();
                &mut one.answered_waits
            }
            Outcome::Abandoned => {
                one.abandoned = 1;
                one.abandoned_within_threshold = within;
                if rules.is_short_abandon(fact) {
                    one.short_abandoned = 1;
                    one.short_abandoned_within_threshold = within;
                    one.sum_wait_ms_short_abandoned = wait;
                }
                &mut one.abandoned_waits
            }
            Outcome::Overflowed => {
                one.overflowed = 1;
                &mut one.other_waits
            }
            Outcome::Dropped => {
                one.dropped = 1;
                &mut one.other_waits
            }
        };
        histogram.insert(fact.wait_whole_secs(), 1);
        one
    }

    fn counters(&self) -> [u64; COUNTERS] {
        [
            self.offered,
            self.answered,
            self.abandoned,
            self.short_abandoned,
            self.overflowed,
            self.dropped,
            self.answered_within_threshold,
            self.abandoned_within_threshold,
            self.short_abandoned_within_threshold,
            self.sum_wait_ms_answered,
            self.sum_wait_ms_all,
            self.sum_wait_ms_short_abandoned,
            self.sum_talk_ms,
            self.sum_hold_ms,
            self.sum_wrap_ms,
            self.transfers,
            self.callbacks,
        ]
    }

    fn counters_mut(&mut self) -> [&mut u64; COUNTERS] {
        [
            &mut self.offered,
            &mut self.answered,
            &mut self.abandoned,
            &mut self.short_abandoned,
            &mut self.overflowed,
            &mut self.dropped,
            &mut self.answered_within_threshold,
            &mut self.abandoned_within_threshold,
            &mut self.short_abandoned_within_threshold,
            &mut self.sum_wait_ms_answered,
            &mut self.sum_wait_ms_all,
            &mut self.sum_wait_ms_short_abandoned,
            &mut self.sum_talk_ms,
            &mut self.sum_hold_ms,
            &mut self.sum_wrap_ms,
            &mut self.transfers,
            &mut self.callbacks,
        ]
    }

    fn histograms(&self) -> [&WaitHistogram; 3] {
        [&self.answered_waits, &self.abandoned_waits, &self.other_waits]
    }

    fn histograms_mut(&mut self) -> [&mut WaitHistogram; 3] {
        [&mut self.answered_waits, &mut self.abandoned_waits, &mut self.other_waits]
    }

    /// Counts one more fact.
    pub fn add(&mut self, fact: &CallFact) {
        let one = Tally::of_one(self.rules, fact);
        self.add_unchecked(&one);
    }

    /// Takes back a fact previously added, exactly: afterwards the tally equals the tally of the
    /// remaining facts.
    ///
    /// Fails, leaving the tally unchanged, when the fact would take any counter, sum or histogram
    /// bin below zero (it was never added). A fact that was never added but happens to fit is
    /// not detected; callers remove only what they added.
    pub fn remove(&mut self, fact: &CallFact) -> Result<(), AnalyticsError> {
        let one = Tally::of_one(self.rules, fact);
        let fits_counters = self.counters().iter().zip(one.counters()).all(|(have, take)| *have >= take);
        if !fits_counters {
            return Err(AnalyticsError::FactNotInTally("a counter would go below zero"));
        }
        let fits_histograms = self
            .histograms()
            .iter()
            .zip(one.histograms())
            .all(|(have, take)| take.iter().all(|(secs, count)| have.get(secs).is_some_and(|held| held >= count)));
        if !fits_histograms {
            return Err(AnalyticsError::FactNotInTally("its wait is not in the histogram"));
        }
        for (have, take) in self.counters_mut().into_iter().zip(one.counters()) {
            *have -= take;
        }
        for (have, take) in self.histograms_mut().into_iter().zip(one.histograms()) {
            for (secs, count) in take {
                let held = have.get_mut(secs).expect("checked above");
                *held -= count;
                if *held == 0 {
                    have.remove(secs);
                }
            }
        }
        Ok(())
    }

    /// Adds another tally's calls into this one. Fails, leaving this tally unchanged, when the two
    /// were built with different [`TallyRules`].
    pub fn merge(&mut self, other: &Tally) -> Result<(), AnalyticsError> {
        if self.rules != other.rules {
            return Err(AnalyticsError::RulesDiffer { left: self.rules, right: other.rules });
        }
        self.add_unchecked(other);
        Ok(())
    }

    fn add_unchecked(&mut self, other: &Tally) {
        for (have, add) in self.counters_mut().into_iter().zip(other.counters()) {
            *have += add;
        }
        for (have, add) in self.histograms_mut().into_iter().zip(other.histograms()) {
            for (secs, count) in add {
                *have.entry(*secs).or_insert(0) += count;
            }
        }
    }

    /// Whether the tally counts no call.
    pub fn is_empty(&self) -> bool {
        self.offered == 0
    }

    /// The whole-second wait histogram of a population (abandoned bins under the short-abandon
    /// threshold left out for [`WaitPopulation::AllCallsButShortAbandons`]).
    pub fn wait_histogram(&self, population: WaitPopulation) -> Cow<'_, WaitHistogram> {
        let short_secs = self.rules.short_abandon_secs;
        let combined = |skip_short: bool| {
            let mut all = self.answered_waits.clone();
            let abandoned = self.abandoned_waits.iter().filter(|(secs, _)| !skip_short || **secs >= short_secs);
            for (secs, count) in abandoned.chain(&self.other_waits) {
                *all.entry(*secs).or_insert(0) += count;
            }
            all
        };
        match population {
            WaitPopulation::Answered => Cow::Borrowed(&self.answered_waits),
            WaitPopulation::AllCalls => Cow::Owned(combined(false)),
            WaitPopulation::AllCallsButShortAbandons => Cow::Owned(combined(true)),
        }
    }

    /// The `percentile`-th wait of a population in whole seconds, by [`nearest_rank`]: the
    /// smallest whole second `s` such that at least `percentile`% of the population waited less
    /// than `s + 1` seconds.
    ///
    /// `None` when the population is empty or `percentile` is not in `(0, 100]`.
    pub fn wait_percentile_secs(&self, population: WaitPopulation, percentile: f64) -> Option<u32> {
        let histogram = self.wait_histogram(population);
        let rank = nearest_rank(percentile, histogram.values().sum())?;
        let mut seen = 0;
        for (secs, count) in histogram.iter() {
            seen += count;
            if seen >= rank {
                return Some(*secs);
            }
        }
        None
    }

    /// The longest wait of a population in whole seconds (its 100th percentile); `None` when the
    /// population is empty.
    pub fn longest_wait_secs(&self, population: WaitPopulation) -> Option<u32> {
        self.wait_histogram(population).keys().next_back().copied()
    }
}

/// The 1-based rank of the nearest-rank percentile: `⌈percentile × count / 100⌉`, at least 1.
///
/// The `percentile`-th percentile of `count` values is the value at this rank once they are
/// sorted ascending. `None` when `count` is 0 or `percentile` is not in `(0, 100]` (NaN
/// included).
pub fn nearest_rank(percentile: f64, count: u64) -> Option<u64> {
    if count == 0 || !(percentile > 0.0 && percentile <= 100.0) {
        return None;
    }
    let rank = (percentile * count as f64 / 100.0).ceil() as u64;
    Some(rank.clamp(1, count))
}

/// Tallies facts grouped by a key (queue, agent, bucket start, or a tuple of those): each fact
/// counts in exactly one group.
pub fn tally_by<'a, K: Ord>(
    rules: TallyRules,
    facts: impl IntoIterator<Item = &'a CallFact>,
    key_of: impl Fn(&CallFact) -> K,
) -> BTreeMap<K, Tally> {
    let mut groups = BTreeMap::new();
    for fact in facts {
        groups.entry(key_of(fact)).or_insert_with(|| Tally::empty(rules)).add(fact);
    }
    groups
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use uuid::Uuid;

    use super::*;

    const RULES: TallyRules = TallyRules { service_level_secs: 20, short_abandon_secs: 5 };

    fn fact(outcome: Outcome, wait_ms: i64) -> CallFact {
        CallFact {
            queue: Uuid::nil(),
            agent: None,
            team: None,
            entered_at: DateTime::UNIX_EPOCH,
            answered_at: None,
            left_queue_at: None,
            ended_at: None,
            wait_ms,
            talk_ms: 60_000,
            hold_ms: 5_000,
            wrap_ms: 10_000,
            outcome,
            transferred: false,
            callback: false,
        }
    }

    #[test]
    fn one_fact_lands_in_the_counters_its_outcome_and_wait_say() {
        use Outcome::*;
        // (outcome, wait ms, answered≤T, abandoned≤T, short, short≤T, talk summed)
        let cases = [
            (Answered, 20_000, 1, 0, 0, 0, 60_000),
            (Answered, 20_001, 0, 0, 0, 0, 60_000),
            (Abandoned, 4_999, 0, 1, 1, 1, 0),
            (Abandoned, 5_000, 0, 1, 0, 0, 0),
            (Abandoned, 25_000, 0, 0, 0, 0, 0),
            (Overflowed, 1_000, 0, 0, 0, 0, 0),
            (Dropped, 1_000, 0, 0, 0, 0, 0),
        ];
        for (outcome, wait_ms, answered_within, abandoned_within, short, short_within, talk) in cases {
            let tally = Tally::from_facts(RULES, [&fact(outcome, wait_ms)]);
            let label = format!("{outcome:?} after {wait_ms} ms");
            assert_eq!(tally.offered, 1, "{label}");
            assert_eq!(tally.answered_within_threshold, answered_within, "{label}");
            assert_eq!(tally.abandoned_within_threshold, abandoned_within, "{label}");
            assert_eq!(tally.short_abandoned, short, "{label}");
            assert_eq!(tally.short_abandoned_within_threshold, short_within, "{label}");
            assert_eq!(tally.sum_talk_ms, talk, "{label}");
            assert_eq!(tally.sum_wait_ms_all, wait_ms as u64, "{label}");
        }
    }

    #[test]
    fn short_abandons_exist_only_with_a_positive_threshold() {
        let rules = TallyRules { service_level_secs: 20, short_abandon_secs: 0 };
        let tally = Tally::from_facts(rules, [&fact(Outcome::Abandoned, 0)]);
        assert_eq!(tally.short_abandoned, 0);
    }

    #[test]
    fn percentiles_follow_the_nearest_rank_on_whole_seconds() {
        // Waits 1.5 s, 2.9 s, 3.0 s, 9.99 s, 40 s → whole seconds 1, 2, 3, 9, 40.
        let facts: Vec<_> =
            [1_500, 2_900, 3_000, 9_990, 40_000].into_iter().map(|w| fact(Outcome::Answered, w)).collect();
        let tally = Tally::from_facts(RULES, &facts);
        // (percentile, expected whole seconds): rank = ceil(p × 5 / 100).
        let cases = [(1.0, 1), (20.0, 1), (20.1, 2), (50.0, 3), (80.0, 9), (80.5, 40), (95.0, 40), (100.0, 40)];
        for (percentile, expected) in cases {
            assert_eq!(
                tally.wait_percentile_secs(WaitPopulation::Answered, percentile),
                Some(expected),
                "p{percentile}"
            );
        }
        for invalid in [0.0, -1.0, 100.5, f64::NAN] {
            assert_eq!(tally.wait_percentile_secs(WaitPopulation::Answered, invalid), None, "p{invalid}");
        }
        assert_eq!(Tally::empty(RULES).wait_percentile_secs(WaitPopulation::Answered, 50.0), None);
    }

    #[test]
    fn populations_choose_which_waits_count() {
        let facts = [
            fact(Outcome::Answered, 10_000),
            fact(Outcome::Abandoned, 2_000),  // short
            fact(Outcome::Abandoned, 30_000), // not short
            fact(Outcome::Overflowed, 60_000),
        ];
        let tally = Tally::from_facts(RULES, &facts);
        // (population, histogram, longest)
        let cases = [
            (WaitPopulation::Answered, vec![(10, 1)], Some(10)),
            (WaitPopulation::AllCalls, vec![(2, 1), (10, 1), (30, 1), (60, 1)], Some(60)),
            (WaitPopulation::AllCallsButShortAbandons, vec![(10, 1), (30, 1), (60, 1)], Some(60)),
        ];
        for (population, histogram, longest) in cases {
            let expected: WaitHistogram = histogram.into_iter().collect();
            assert_eq!(*tally.wait_histogram(population), expected, "{population:?}");
            assert_eq!(tally.longest_wait_secs(population), longest, "{population:?}");
        }
    }

    #[test]
    fn removing_the_longest_wait_lowers_the_longest_wait() {
        let long = fact(Outcome::Answered, 90_000);
        let mut tally = Tally::from_facts(RULES, [&fact(Outcome::Answered, 12_000), &long]);
        tally.remove(&long).unwrap();
        assert_eq!(tally.longest_wait_secs(WaitPopulation::AllCalls), Some(12));
        assert_eq!(tally.answered_waits.len(), 1, "emptied bins are dropped");
    }

    #[test]
    fn removing_a_fact_never_added_fails_and_changes_nothing() {
        let mut tally = Tally::from_facts(RULES, [&fact(Outcome::Answered, 12_000)]);
        let before = tally.clone();
        let cases = [fact(Outcome::Abandoned, 12_000), fact(Outcome::Answered, 13_000)];
        for stranger in cases {
            assert!(matches!(tally.remove(&stranger), Err(AnalyticsError::FactNotInTally(_))), "{stranger:?}");
            assert_eq!(tally, before);
        }
    }

    #[test]
    fn merging_tallies_with_different_rules_fails() {
        let mut tally = Tally::empty(RULES);
        let other = Tally::empty(TallyRules { service_level_secs: 30, short_abandon_secs: 5 });
        assert!(matches!(tally.merge(&other), Err(AnalyticsError::RulesDiffer { .. })));
    }

    #[test]
    fn tallies_round_trip_through_json() {
        let tally = Tally::from_facts(RULES, [&fact(Outcome::Answered, 12_000), &fact(Outcome::Dropped, 0)]);
        let json = serde_json::to_value(&tally).unwrap();
        assert_eq!(json["answeredWaits"]["12"], 1);
        assert_eq!(json["rules"]["serviceLevelSecs"], 20);
        assert_eq!(serde_json::from_value::<Tally>(json).unwrap(), tally);
    }

    #[test]
    fn tally_by_puts_each_fact_in_one_group() {
        let mut facts = [fact(Outcome::Answered, 1_000), fact(Outcome::Answered, 2_000), fact(Outcome::Dropped, 0)];
        facts[0].agent = Some("101".into());
        facts[1].agent = Some("102".into());
        facts[2].agent = Some("101".into());
        let groups = tally_by(RULES, &facts, |f| f.agent.clone());
        let offered: Vec<_> = groups.iter().map(|(agent, tally)| (agent.as_deref(), tally.offered)).collect();
        assert_eq!(offered, [(Some("101"), 2), (Some("102"), 1)]);
    }
}
