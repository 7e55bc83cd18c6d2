//! Ground truth: [`Kpis`] computed straight from a list of facts, without a [`Tally`].
//!
//! This path shares only definitions with the pre-aggregated one (the counted durations of
//! [`CallFact`], [`nearest_rank`], the conventions of [`Kpis`]); it filters, sums and sorts the
//! facts itself. Tests check that pre-aggregated results equal it exactly, so any result built
//! from tallies can be trusted as far as this simple code can.
//!
//! [`Tally`]: crate::accumulate::Tally

use crate::accumulate::{nearest_rank, TallyRules};
use crate::fact::{CallFact, Outcome};
use crate::kpi::{calls_per_hour, fraction, AgentTime, KpiOptions, Kpis, ServiceLevelFormula, WaitPercentiles};

/// The KPIs of `facts` under `rules` and `options`, computed directly; equal to
/// `Kpis::from_tally(&Tally::from_facts(rules, facts), options, agent_time)`.
pub fn recompute_kpis(facts: &[CallFact], rules: &TallyRules, options: &KpiOptions, agent_time: &AgentTime) -> Kpis {
    let within_ms = u64::from(rules.service_level_secs) * 1000;
    let short_ms = u64::from(rules.short_abandon_secs) * 1000;
    let is_short = |f: &CallFact| f.outcome == Outcome::Abandoned && f.counted_wait_ms() < short_ms;
    let count = |keep: &dyn Fn(&CallFact) -> bool| facts.iter().filter(|f| keep(f)).count() as u64;
    let sum = |keep: &dyn Fn(&CallFact) -> bool, of: &dyn Fn(&CallFact) -> u64| {
        facts.iter().filter(|f| keep(f)).map(of).sum::<u64>()
    };
    let answered_fact = |f: &CallFact| f.outcome == Outcome::Answered;
    // The offered population: every fact, or every fact but short abandons.
    let counts_as_offered = |f: &CallFact| !(options.exclude_short_abandons && is_short(f));

    let offered = count(&counts_as_offered);
    let answered = count(&answered_fact);
    let abandoned = count(&|f| counts_as_offered(f) && f.outcome == Outcome::Abandoned);
    let short_abandoned = count(&is_short);
    let answered_within = count(&|f| answered_fact(f) && f.counted_wait_ms() <= within_ms);
    let abandoned_within =
        count(&|f| counts_as_offered(f) && f.outcome == Outcome::Abandoned && f.counted_wait_ms() <= within_ms);
    let short_still_offered = if options.exclude_short_abandons { 0 } else { short_abandoned };

    let service_level = match options.formula {
        ServiceLevelFormula::AnsweredWithinOverOffered => fraction(answered_within, offered),
        ServiceLevelFormula::AnsweredWithinOverOfferedLessShortAbandons => {
            fraction(answered_within, offered - short_still_offered)
        }
        ServiceLevelFormula::AnsweredWithinOverAnswered => fraction(answered_within, answered),
        ServiceLevelFormula::AnsweredAndAbandonedWithinOverOffered => {
            fraction(answered_within + abandoned_within, offered)
        }
    };

    let sorted_waits = |keep: &dyn Fn(&CallFact) -> bool| {
        let mut waits: Vec<u32> = facts.iter().filter(|f| keep(f)).map(CallFact::wait_whole_secs).collect();
        waits.sort_unstable();
        waits
    };
    let percentiles = |waits: &[u32]| {
        let at = |p: f64| nearest_rank(p, waits.len() as u64).map(|rank| waits[rank as usize - 1]);
        WaitPercentiles { p50: at(50.0), p80: at(80.0), p90: at(90.0), p95: at(95.0) }
    };
    let answered_waits = sorted_waits(&answered_fact);
    let offered_waits = sorted_waits(&counts_as_offered);

    let talk = sum(&answered_fact, &CallFact::counted_talk_ms);
    let hold = sum(&answered_fact, &CallFact::counted_hold_ms);
    let wrap = sum(&answered_fact, &CallFact::counted_wrap_ms);
    let handled = sum(&answered_fact, &|f| f.counted_talk_ms() + f.counted_hold_ms() + f.counted_wrap_ms());

    Kpis {
        rules: *rules,
        options: *options,
        offered,
        answered,
        abandoned,
        short_abandoned,
        overflowed: count(&|f| f.outcome == Outcome::Overflowed),
        dropped: count(&|f| f.outcome == Outcome::Dropped),
        answered_within_threshold: answered_within,
        abandoned_within_threshold: abandoned_within,
        service_level,
        abandon_rate: fraction(abandoned, offered),
        average_speed_of_answer_ms: fraction(sum(&answered_fact, &CallFact::counted_wait_ms), answered),
        average_wait_ms: fraction(sum(&counts_as_offered, &CallFact::counted_wait_ms), offered),
        answered_wait_percentiles: percentiles(&answered_waits),
        wait_percentiles: percentiles(&offered_waits),
        longest_wait_secs: offered_waits.last().copied(),
        average_handle_time_ms: fraction(handled, answered),
        average_talk_ms: fraction(talk, answered),
        average_hold_ms: fraction(hold, answered),
        average_wrap_ms: fraction(wrap, answered),
        transfers: count(&|f| f.transferred),
        callbacks: count(&|f| f.callback),
        agent_time: *agent_time,
        occupancy: fraction(agent_time.busy_ms, agent_time.busy_ms + agent_time.available_ms),
        utilisation: fraction(agent_time.busy_ms, agent_time.logged_in_ms),
        calls_per_agent_hour: calls_per_hour(answered, agent_time.logged_in_ms),
    }
}
