//! Ring strategies: given the queue members free to ring for a call, which of them ring. A pure
//! function of its inputs, so every strategy is tested as a table.

use super::config::RingStrategy;
use super::events::SimMs;

/// A queue member who could ring now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// The agent's position in the configuration.
    pub agent: usize,
    /// The agent's position in the queue's member list (configuration order).
    pub member: usize,
    /// When the agent last became free after a call, a break or login.
    pub idle_since: SimMs,
    /// Calls of this queue the agent has answered.
    pub answered: u32,
}

/// The agents to ring, in ringing order. `candidates` must be in member order; `last_rung` is
/// the member position the queue rang last (for round robin); `members` is the member count.
/// Returns all candidates for ring-all and at most one otherwise; empty if there are none.
pub(crate) fn agents_to_ring(
    strategy: RingStrategy,
    candidates: &[Candidate],
    last_rung: Option<usize>,
    members: usize,
) -> Vec<usize> {
    let chosen = match strategy {
        RingStrategy::RingAll => return candidates.iter().map(|c| c.agent).collect(),
        RingStrategy::Hunt => candidates.first(),
        RingStrategy::RoundRobin => {
            let start = last_rung.map_or(0, |m| m + 1);
            let members = members.max(1);
            candidates.iter().min_by_key(|c| (c.member + members - start % members) % members)
        }
        RingStrategy::LongestIdle => candidates.iter().min_by_key(|c| (c.idle_since, c.member)),
        RingStrategy::FewestAnswered => candidates.iter().min_by_key(|c| (c.answered, c.idle_since, c.member)),
    };
    chosen.map(|c| vec![c.agent]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (agent, member, idle_since, answered)
    fn candidates(rows: &[(usize, usize, SimMs, u32)]) -> Vec<Candidate> {
        rows.iter()
            .map(|&(agent, member, idle_since, answered)| Candidate { agent, member, idle_since, answered })
            .collect()
    }

    #[test]
    fn each_strategy_picks_the_expected_agents() {
        let three = candidates(&[(10, 0, 500, 4), (11, 1, 100, 9), (12, 2, 300, 1)]);
        let gap = candidates(&[(10, 0, 500, 2), (12, 2, 300, 2), (13, 3, 300, 2)]);
        type Case<'a> = (&'a str, RingStrategy, &'a [Candidate], Option<usize>, usize, Vec<usize>);
        let cases: Vec<Case> = vec![
            ("ring-all rings every candidate", RingStrategy::RingAll, &three, None, 3, vec![10, 11, 12]),
            ("hunt takes the first member", RingStrategy::Hunt, &three, Some(0), 3, vec![10]),
            ("round robin starts at member 0", RingStrategy::RoundRobin, &three, None, 3, vec![10]),
            ("round robin continues after the last rung", RingStrategy::RoundRobin, &three, Some(0), 3, vec![11]),
            ("round robin wraps around", RingStrategy::RoundRobin, &three, Some(2), 3, vec![10]),
            ("round robin skips busy members", RingStrategy::RoundRobin, &gap, Some(0), 4, vec![12]),
            ("round robin wraps past busy members", RingStrategy::RoundRobin, &gap, Some(3), 4, vec![10]),
            ("longest idle takes the earliest idle", RingStrategy::LongestIdle, &three, None, 3, vec![11]),
            ("longest idle breaks ties by member order", RingStrategy::LongestIdle, &gap, None, 4, vec![12]),
            ("fewest answered takes the least busy", RingStrategy::FewestAnswered, &three, None, 3, vec![12]),
            ("fewest answered breaks ties by idle time", RingStrategy::FewestAnswered, &gap, None, 4, vec![12]),
            ("no candidates, nobody rings", RingStrategy::Hunt, &[], None, 3, vec![]),
        ];
        for (name, strategy, cands, last, members, expected) in cases {
            assert_eq!(agents_to_ring(strategy, cands, last, members), expected, "{name}");
        }
    }
}
