//! Agent ranking by a transparent, configurable score.
//!
//! Each input is normalised **min–max across the ranked agents** to `[0, 1]`, 1 being best:
//! - higher is better (answered calls, availability): `(x − min) / (max − min)`;
//! - lower is better (average handle time, missed rings): `(max − x) / (max − min)`.
//!
//! When every agent has the same value (`max = min`, or a single agent) the input doesn't tell
//! them apart and everyone gets 1. An agent without an average handle time (no answered call)
//! gets 0 for it and is left out of that input's min and max.
//!
//! `contribution = weight × normalised`, `score = Σ contributions` (so between 0 and the sum of
//! the weights). Agents are ranked by score, highest first; equal scores are ordered by agent id
//! (ascending byte order), so ranks are always `1..=n` with no ties.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::AnalyticsError;

/// One agent's figures over the ranked period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AgentPerformance {
    /// The agent's id (extension); unique among the ranked agents.
    pub agent: String,
    /// Calls answered.
    pub answered: u64,
    /// Average handle time in ms; `None` when the agent answered nothing.
    pub average_handle_time_ms: Option<f64>,
    /// Rings the agent missed or refused.
    pub missed_rings: u64,
    /// Share of logged-in time the agent was available or on a call, in `[0, 1]`.
    pub availability: f64,
}

/// The weight of each input in the score; any non-negative finite numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ScoreWeights {
    /// Weight of answered calls (default 0.4).
    pub answered: f64,
    /// Weight of a short average handle time (default 0.2).
    pub handle_time: f64,
    /// Weight of few missed rings (default 0.2).
    pub missed_rings: f64,
    /// Weight of availability (default 0.2).
    pub availability: f64,
}

impl Default for ScoreWeights {
    /// 0.4 answered, 0.2 each for handle time, missed rings and availability (sum 1).
    fn default() -> Self {
        ScoreWeights { answered: 0.4, handle_time: 0.2, missed_rings: 0.2, availability: 0.2 }
    }
}

/// One input of one agent's score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ScoredInput {
    /// The agent's value as given; `None` for a missing handle time.
    pub value: Option<f64>,
    /// The value normalised to `[0, 1]`, 1 best.
    pub normalised: f64,
    /// The input's weight.
    pub weight: f64,
    /// `weight × normalised`.
    pub contribution: f64,
}

/// One agent's place in the ranking and how the score was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RankedAgent {
    /// 1 for the best; distinct for every agent.
    pub rank: u32,
    /// The agent's id.
    pub agent: String,
    /// The sum of the contributions.
    pub score: f64,
    /// Answered calls (higher is better).
    pub answered: ScoredInput,
    /// Average handle time (lower is better).
    pub handle_time: ScoredInput,
    /// Missed rings (lower is better).
    pub missed_rings: ScoredInput,
    /// Availability (higher is better).
    pub availability: ScoredInput,
}

#[derive(Clone, Copy, PartialEq)]
enum Better {
    Higher,
    Lower,
}

/// Min–max normalises one input's values (`None` values get 0 and don't count in the range).
fn normalise(values: &[Option<f64>], better: Better) -> Vec<f64> {
    let present = values.iter().flatten().copied();
    let min = present.clone().fold(f64::INFINITY, f64::min);
    let max = present.fold(f64::NEG_INFINITY, f64::max);
    values
        .iter()
        .map(|value| match value {
            None => 0.0,
            Some(_) if max == min => 1.0,
            Some(x) if better == Better::Higher => (x - min) / (max - min),
            Some(x) => (max - x) / (max - min),
        })
        .collect()
}

fn check_inputs(agents: &[AgentPerformance], weights: &ScoreWeights) -> Result<(), AnalyticsError> {
    let all_weights = [weights.answered, weights.handle_time, weights.missed_rings, weights.availability];
    if all_weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
        return Err(AnalyticsError::InvalidInput("score weights must be finite and non-negative".into()));
    }
    let mut seen = BTreeSet::new();
    for agent in agents {
        if !seen.insert(agent.agent.as_str()) {
            return Err(AnalyticsError::InvalidInput(format!("agent {} is listed twice", agent.agent)));
        }
        if !(0.0..=1.0).contains(&agent.availability) {
            return Err(AnalyticsError::InvalidInput(format!("availability of {} is not in [0, 1]", agent.agent)));
        }
        if agent.average_handle_time_ms.is_some_and(|aht| !(aht.is_finite() && aht >= 0.0)) {
            return Err(AnalyticsError::InvalidInput(format!("handle time of {} is invalid", agent.agent)));
        }
    }
    Ok(())
}

/// Ranks agents by the score of the [module docs](self). Fails on duplicate agent ids, negative
/// or non-finite weights, availability outside `[0, 1]` or a negative or non-finite handle time.
pub fn rank_agents(agents: &[AgentPerformance], weights: &ScoreWeights) -> Result<Vec<RankedAgent>, AnalyticsError> {
    check_inputs(agents, weights)?;
    let column = |of: fn(&AgentPerformance) -> Option<f64>| agents.iter().map(of).collect::<Vec<_>>();
    let answered = column(|a| Some(a.answered as f64));
    let handle_time = column(|a| a.average_handle_time_ms);
    let missed_rings = column(|a| Some(a.missed_rings as f64));
    let availability = column(|a| Some(a.availability));
    let normalised = [
        normalise(&answered, Better::Higher),
        normalise(&handle_time, Better::Lower),
        normalise(&missed_rings, Better::Lower),
        normalise(&availability, Better::Higher),
    ];
    let mut ranked: Vec<RankedAgent> = agents
        .iter()
        .enumerate()
        .map(|(i, agent)| {
            let scored = |values: &[Option<f64>], input: usize, weight: f64| ScoredInput {
                value: values[i],
                normalised: normalised[input][i],
                weight,
                contribution: weight * normalised[input][i],
            };
            let inputs = [
                scored(&answered, 0, weights.answered),
                scored(&handle_time, 1, weights.handle_time),
                scored(&missed_rings, 2, weights.missed_rings),
                scored(&availability, 3, weights.availability),
            ];
            RankedAgent {
                rank: 0,
                agent: agent.agent.clone(),
                score: inputs.iter().map(|input| input.contribution).sum(),
                answered: inputs[0],
                handle_time: inputs[1],
                missed_rings: inputs[2],
                availability: inputs[3],
            }
        })
        .collect();
    ranked.sort_by(|a, b| match b.score.total_cmp(&a.score) {
        Ordering::Equal => a.agent.cmp(&b.agent),
        by_score => by_score,
    });
    for (position, agent) in ranked.iter_mut().enumerate() {
        agent.rank = position as u32 + 1;
    }
    Ok(ranked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(id: &str, answered: u64, aht_secs: Option<f64>, missed_rings: u64, availability: f64) -> AgentPerformance {
        AgentPerformance {
            agent: id.into(),
            answered,
            average_handle_time_ms: aht_secs.map(|s| s * 1000.0),
            missed_rings,
            availability,
        }
    }

    #[test]
    fn inputs_normalise_min_max_with_best_at_one() {
        // (values, better, expected)
        let cases = [
            (vec![Some(10.0), Some(20.0), Some(30.0)], Better::Higher, vec![0.0, 0.5, 1.0]),
            (vec![Some(10.0), Some(20.0), Some(30.0)], Better::Lower, vec![1.0, 0.5, 0.0]),
            (vec![Some(7.0), Some(7.0)], Better::Lower, vec![1.0, 1.0]),
            (vec![Some(100.0), None, Some(200.0)], Better::Lower, vec![1.0, 0.0, 0.0]),
            (vec![None], Better::Higher, vec![0.0]),
        ];
        for (values, better, expected) in cases {
            assert_eq!(normalise(&values, better), expected, "{values:?}");
        }
    }

    #[test]
    fn ranking_shows_each_input_and_its_contribution() {
        let agents = [
            agent("101", 40, Some(200.0), 0, 1.0),
            agent("102", 20, Some(300.0), 4, 0.5),
            agent("103", 30, Some(250.0), 2, 0.75),
        ];
        let ranked = rank_agents(&agents, &ScoreWeights::default()).unwrap();
        // 101 is best at everything (score 1.0), 102 worst (0.0), 103 in the middle of each (0.5).
        let scores: Vec<_> = ranked.iter().map(|r| (r.rank, r.agent.as_str(), r.score)).collect();
        assert_eq!(scores, [(1, "101", 1.0), (2, "103", 0.5), (3, "102", 0.0)]);
        let middle = &ranked[1];
        assert_eq!(
            middle.handle_time,
            ScoredInput { value: Some(250_000.0), normalised: 0.5, weight: 0.2, contribution: 0.1 }
        );
        assert_eq!(middle.answered.contribution, 0.2);
    }

    #[test]
    fn equal_scores_rank_by_agent_id() {
        let agents = [agent("b", 10, Some(100.0), 1, 0.5), agent("a", 10, Some(100.0), 1, 0.5)];
        let ranked = rank_agents(&agents, &ScoreWeights::default()).unwrap();
        let order: Vec<_> = ranked.iter().map(|r| (r.rank, r.agent.as_str(), r.score)).collect();
        assert_eq!(order, [(1, "a", 1.0), (2, "b", 1.0)]);
    }

    #[test]
    fn an_agent_without_a_handle_time_gets_no_credit_for_it() {
        let weights = ScoreWeights { answered: 0.0, handle_time: 1.0, missed_rings: 0.0, availability: 0.0 };
        let agents = [agent("idle", 0, None, 0, 1.0), agent("busy", 5, Some(300.0), 0, 1.0)];
        let ranked = rank_agents(&agents, &weights).unwrap();
        let scores: Vec<_> = ranked.iter().map(|r| (r.agent.as_str(), r.score)).collect();
        assert_eq!(scores, [("busy", 1.0), ("idle", 0.0)]);
    }

    #[test]
    fn invalid_inputs_are_refused() {
        let good = agent("101", 1, Some(1.0), 0, 0.5);
        let cases = [
            (vec![good.clone(), good.clone()], ScoreWeights::default()),
            (vec![agent("101", 1, Some(1.0), 0, 1.5)], ScoreWeights::default()),
            (vec![agent("101", 1, Some(-1.0), 0, 0.5)], ScoreWeights::default()),
            (vec![good.clone()], ScoreWeights { answered: -0.1, ..ScoreWeights::default() }),
            (vec![good], ScoreWeights { availability: f64::NAN, ..ScoreWeights::default() }),
        ];
        for (agents, weights) in cases {
            assert!(rank_agents(&agents, &weights).is_err(), "{agents:?} {weights:?}");
        }
    }
}
