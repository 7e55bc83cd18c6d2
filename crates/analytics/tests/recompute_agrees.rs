//! Pre-aggregated KPIs equal the ground truth recomputed from the facts, exactly.

mod common;

use lineup_analytics::{recompute_kpis, Kpis, Tally};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// `Kpis::from_tally(Tally::from_facts(facts))` equals `recompute_kpis(facts)` for any facts,
    /// thresholds, formula, exclusion and agent time: every count, ratio and percentile.
    #[test]
    fn kpis_of_the_tally_equal_kpis_recomputed_from_facts(
        rules in common::rules(),
        options in common::options(),
        agent_time in common::agent_time(),
        facts in common::facts(80),
    ) {
        let from_tally = Kpis::from_tally(&Tally::from_facts(rules, &facts), &options, &agent_time);
        prop_assert_eq!(from_tally, recompute_kpis(&facts, &rules, &options, &agent_time));
    }

    /// The same holds after merging per-agent tallies, the shape the aggregator stores.
    #[test]
    fn kpis_of_merged_per_agent_tallies_equal_recomputed_kpis(
        rules in common::rules(),
        options in common::options(),
        facts in common::facts(80),
    ) {
        let mut total = Tally::empty(rules);
        for tally in lineup_analytics::tally_by(rules, &facts, |f| f.agent.clone()).values() {
            total.merge(tally).unwrap();
        }
        let agent_time = Default::default();
        prop_assert_eq!(
            Kpis::from_tally(&total, &options, &agent_time),
            recompute_kpis(&facts, &rules, &options, &agent_time)
        );
    }
}
