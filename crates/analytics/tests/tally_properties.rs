//! The tally's algebra: merging any partition in any order, removing, correcting, storing.

mod common;

use chrono::{DateTime, Utc};
use lineup_analytics::{bucket_start, series, BucketTally, Granularity, Period, Tally};
use proptest::prelude::*;

proptest! {
    /// Splitting facts into any number of tallies and merging them back in any order gives the
    /// tally of all the facts.
    #[test]
    fn merging_any_partition_in_any_order_equals_the_tally_of_all(
        rules in common::rules(),
        facts_and_parts in common::facts(60).prop_flat_map(|facts| {
            let n = facts.len();
            (Just(facts), proptest::collection::vec(0usize..5, n), Just((0..5).collect::<Vec<usize>>()).prop_shuffle())
        }),
    ) {
        let (facts, part_of, merge_order) = facts_and_parts;
        let mut parts = vec![Tally::empty(rules); 5];
        for (fact, part) in facts.iter().zip(&part_of) {
            parts[*part].add(fact);
        }
        let mut merged = Tally::empty(rules);
        for part in merge_order {
            merged.merge(&parts[part]).unwrap();
        }
        prop_assert_eq!(merged, Tally::from_facts(rules, &facts));
    }

    /// Adding a fact and removing it again gives back the same tally, field for field.
    #[test]
    fn add_then_remove_is_identity(rules in common::rules(), facts in common::facts(40), extra in common::fact()) {
        let before = Tally::from_facts(rules, &facts);
        let mut tally = before.clone();
        tally.add(&extra);
        tally.remove(&extra).unwrap();
        prop_assert_eq!(tally, before);
    }

    /// Removing every fact, in any order, leaves the empty tally.
    #[test]
    fn removing_every_fact_in_any_order_empties_the_tally(
        rules in common::rules(),
        facts in common::facts(40).prop_shuffle(),
    ) {
        let mut tally = Tally::from_facts(rules, &facts);
        let mut reversed = facts.clone();
        reversed.reverse();
        for fact in &reversed {
            tally.remove(fact).unwrap();
        }
        prop_assert_eq!(tally, Tally::empty(rules));
    }

    /// Re-aggregating a corrected record (remove the old version, add the new) equals tallying
    /// the corrected list from scratch.
    #[test]
    fn correcting_a_record_equals_tallying_the_corrected_facts(
        rules in common::rules(),
        facts in common::facts(40).prop_filter("needs a fact", |f| !f.is_empty()),
        index in any::<prop::sample::Index>(),
        corrected in common::fact(),
    ) {
        let i = index.index(facts.len());
        let mut tally = Tally::from_facts(rules, &facts);
        tally.remove(&facts[i]).unwrap();
        tally.add(&corrected);
        let mut corrected_facts = facts.clone();
        corrected_facts[i] = corrected;
        prop_assert_eq!(tally, Tally::from_facts(rules, &corrected_facts));
    }

    /// A tally survives a JSON round trip unchanged (it is stored as a pre-aggregate row).
    #[test]
    fn tallies_survive_json(rules in common::rules(), facts in common::facts(40)) {
        let tally = Tally::from_facts(rules, &facts);
        let json = serde_json::to_string(&tally).unwrap();
        prop_assert_eq!(serde_json::from_str::<Tally>(&json).unwrap(), tally);
    }

    /// Quarter-hour rows rolled up into a daily series add up to the tally of the facts that
    /// entered within the series' days.
    #[test]
    fn a_rolled_up_series_adds_up_to_the_facts_in_its_period(rules in common::rules(), facts in common::facts(60)) {
        let from: DateTime<Utc> = "2025-01-06T00:00:00Z".parse().unwrap();
        let period = Period { from, to: from + Granularity::Day.length() }; // the first of the two days
        let rows = lineup_analytics::tally_by(rules, &facts, |f| bucket_start(Granularity::FifteenMinutes, f.entered_at));
        let inputs = rows.into_iter().map(|(start, tally)| BucketTally { start, tally });
        let daily = series(&period, Granularity::Day, rules, inputs).unwrap();
        prop_assert_eq!(daily.len(), 1);
        let inside = facts.iter().filter(|f| period.contains(f.entered_at));
        prop_assert_eq!(&daily[0].tally, &Tally::from_facts(rules, inside));
    }
}
