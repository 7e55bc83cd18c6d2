//! Erlang C staffing maths (M/M/N queue: Poisson arrivals, exponential handle times, no
//! abandons), for "how many agents do we need".
//!
//! With traffic `A = arrivals × AHT` (Erlangs) and `N` agents:
//! - Erlang B by the stable recurrence `B(0) = 1`, `B(k) = A·B(k−1) / (k + A·B(k−1))`;
//! - Erlang C, the probability a call waits: `C = N·B / (N − A·(1 − B))`;
//! - service level, the probability a call waits at most `t` seconds:
//!   `SL = 1 − C·exp(−(N − A)·t / AHT)`;
//! - average speed of answer: `ASA = C·AHT / (N − A)` seconds;
//! - occupancy: `A / N`.
//!
//! When `A ≥ N` the queue has no steady state (it grows without bound): `C = 1`, `SL = 0` and the
//! ASA is undefined (`None`). Probabilities are fractions in `[0, 1]`.

use crate::error::AnalyticsError;

/// The largest traffic accepted, in Erlangs (far beyond any contact centre; keeps searches short).
pub const MAX_TRAFFIC_ERLANGS: f64 = 1_000_000.0;

fn check_traffic(traffic_erlangs: f64) -> Result<(), AnalyticsError> {
    if (0.0..=MAX_TRAFFIC_ERLANGS).contains(&traffic_erlangs) {
        Ok(())
    } else {
        Err(AnalyticsError::InvalidInput(format!("traffic must be in [0, {MAX_TRAFFIC_ERLANGS}] Erlangs")))
    }
}

fn check_positive(name: &str, value: f64) -> Result<(), AnalyticsError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(AnalyticsError::InvalidInput(format!("{name} must be finite and positive")))
    }
}

fn check_non_negative(name: &str, value: f64) -> Result<(), AnalyticsError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(AnalyticsError::InvalidInput(format!("{name} must be finite and non-negative")))
    }
}

/// Offered traffic in Erlangs: `calls_per_interval × aht_secs / interval_secs`.
pub fn traffic_erlangs(calls_per_interval: f64, interval_secs: f64, aht_secs: f64) -> Result<f64, AnalyticsError> {
    check_non_negative("calls per interval", calls_per_interval)?;
    check_positive("interval", interval_secs)?;
    check_positive("average handle time", aht_secs)?;
    let traffic = calls_per_interval * aht_secs / interval_secs;
    check_traffic(traffic)?;
    Ok(traffic)
}

/// Erlang B: the probability that a call finds all `agents` busy in a loss system (no queue).
/// `1` for zero agents; `0` for zero traffic and at least one agent.
pub fn erlang_b(traffic_erlangs: f64, agents: u32) -> Result<f64, AnalyticsError> {
    check_traffic(traffic_erlangs)?;
    Ok((1..=agents).fold(1.0, |b, k| next_erlang_b(traffic_erlangs, b, k)))
}

/// One step of the Erlang B recurrence: `B(k)` from `B(k − 1)`.
fn next_erlang_b(traffic: f64, previous: f64, k: u32) -> f64 {
    traffic * previous / (f64::from(k) + traffic * previous)
}

/// Erlang C from Erlang B of the same traffic and agents; `1` without a steady state.
fn erlang_c_from_b(traffic: f64, agents: u32, b: f64) -> f64 {
    let n = f64::from(agents);
    if traffic >= n {
        return 1.0;
    }
    n * b / (n - traffic * (1.0 - b))
}

/// Erlang C: the probability that a call has to wait. `1` when `traffic ≥ agents`.
pub fn erlang_c(traffic_erlangs: f64, agents: u32) -> Result<f64, AnalyticsError> {
    let b = erlang_b(traffic_erlangs, agents)?;
    Ok(erlang_c_from_b(traffic_erlangs, agents, b))
}

/// `1 − C·exp(−(N − A)·t / AHT)` given C; `0` without a steady state.
fn service_level_from_c(traffic: f64, agents: u32, c: f64, aht_secs: f64, target_secs: f64) -> f64 {
    let spare = f64::from(agents) - traffic;
    if spare <= 0.0 {
        return 0.0;
    }
    1.0 - c * (-spare * target_secs / aht_secs).exp()
}

/// The probability that a call is answered within `target_secs`, with calls arriving at
/// `arrival_rate_per_hour` and an average handle time of `aht_secs`. `0` when the traffic
/// (`rate × AHT / 3600`) is at least the number of agents.
pub fn service_level(
    arrival_rate_per_hour: f64,
    aht_secs: f64,
    agents: u32,
    target_secs: f64,
) -> Result<f64, AnalyticsError> {
    check_non_negative("target", target_secs)?;
    let traffic = traffic_erlangs(arrival_rate_per_hour, 3600.0, aht_secs)?;
    let c = erlang_c(traffic, agents)?;
    Ok(service_level_from_c(traffic, agents, c, aht_secs, target_secs))
}

/// The average speed of answer over all calls, in seconds: `C·AHT / (N − A)`. `None` when the
/// traffic is at least the number of agents (the wait grows without bound).
pub fn asa(arrival_rate_per_hour: f64, aht_secs: f64, agents: u32) -> Result<Option<f64>, AnalyticsError> {
    let traffic = traffic_erlangs(arrival_rate_per_hour, 3600.0, aht_secs)?;
    let c = erlang_c(traffic, agents)?;
    let spare = f64::from(agents) - traffic;
    Ok((spare > 0.0).then(|| c * aht_secs / spare))
}

/// The fewest agents that answer at least `target_service_level` (a fraction) of calls within
/// `target_secs` and, when `max_occupancy` is given, keep occupancy `A / N` at or below it.
///
/// `0` when no calls are expected. Fails on inputs out of range: `target_service_level` must be
/// in `[0, 1)` (with any traffic some calls wait, so 1 is never met) and `max_occupancy` in
/// `(0, 1]`. The search stops at `2A + 1000` agents, far past where any target below 1 is met,
/// and reports [`AnalyticsError::TargetUnreachable`] if it ever gets there.
pub fn agents_needed(
    calls_per_interval: f64,
    interval_secs: f64,
    aht_secs: f64,
    target_secs: f64,
    target_service_level: f64,
    max_occupancy: Option<f64>,
) -> Result<u32, AnalyticsError> {
    let traffic = traffic_erlangs(calls_per_interval, interval_secs, aht_secs)?;
    check_non_negative("target", target_secs)?;
    if !(0.0..1.0).contains(&target_service_level) {
        return Err(AnalyticsError::InvalidInput("target service level must be in [0, 1)".into()));
    }
    if max_occupancy.is_some_and(|cap| !(cap > 0.0 && cap <= 1.0)) {
        return Err(AnalyticsError::InvalidInput("max occupancy must be in (0, 1]".into()));
    }
    if traffic == 0.0 {
        return Ok(0);
    }
    let max_agents = (2.0 * traffic).ceil() as u32 + 1000;
    let mut b = 1.0;
    for agents in 1..=max_agents {
        b = next_erlang_b(traffic, b, agents);
        let within_cap = max_occupancy.is_none_or(|cap| traffic / f64::from(agents) <= cap);
        if !within_cap || traffic >= f64::from(agents) {
            continue;
        }
        let c = erlang_c_from_b(traffic, agents, b);
        if service_level_from_c(traffic, agents, c, aht_secs, target_secs) >= target_service_level {
            return Ok(agents);
        }
    }
    Err(AnalyticsError::TargetUnreachable { max_agents })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(actual: f64, expected: f64, tolerance: f64, label: &str) {
        assert!((actual - expected).abs() <= tolerance, "{label}: {actual} is not {expected} ± {tolerance}");
    }

    #[test]
    fn erlang_b_matches_published_table_values() {
        // (traffic, agents, B) from Erlang B tables.
        let cases = [
            (10.0, 10, 0.2146),
            (5.0, 5, 0.2849),
            (1.0, 1, 0.5),
            (2.0, 3, 4.0 / 19.0),
            (20.0, 25, 0.0502),
            (100.0, 100, 0.0757),
            (0.0, 3, 0.0),
            (5.0, 0, 1.0),
        ];
        for (traffic, agents, expected) in cases {
            assert_close(erlang_b(traffic, agents).unwrap(), expected, 5e-5, &format!("B({traffic}, {agents})"));
        }
    }

    #[test]
    fn erlang_c_matches_closed_forms() {
        // (traffic, agents, C): C(N=1) = A; C(N=2) = A² / (2 + A); no steady state → 1.
        let cases = [
            (0.1, 1, 0.1),
            (0.5, 1, 0.5),
            (0.9, 1, 0.9),
            (1.0, 2, 1.0 / 3.0),
            (1.5, 2, 1.5 * 1.5 / 3.5),
            (0.0, 2, 0.0),
            (2.0, 2, 1.0),
            (3.0, 2, 1.0),
            (1.0, 0, 1.0),
        ];
        for (traffic, agents, expected) in cases {
            assert_close(erlang_c(traffic, agents).unwrap(), expected, 1e-12, &format!("C({traffic}, {agents})"));
        }
    }

    #[test]
    fn the_classic_48_erlang_example_matches_published_figures() {
        // 360 calls per 30 minutes, AHT 240 s → 720 calls an hour, 48 Erlangs; target 20 s.
        assert_eq!(traffic_erlangs(360.0, 1800.0, 240.0).unwrap(), 48.0);
        // (agents, P(wait), service level within 20 s, ASA s)
        let cases = [
            (53, 0.3765, 0.7518, 18.07),
            (54, 0.3013, 0.8172, 12.05),
            (55, 0.2387, 0.8668, 8.18),
            (56, 0.1872, 0.9039, 5.61),
        ];
        for (agents, p_wait, sl, asa_secs) in cases {
            let label = format!("{agents} agents");
            assert_close(erlang_c(48.0, agents).unwrap(), p_wait, 5e-5, &label);
            assert_close(service_level(720.0, 240.0, agents, 20.0).unwrap(), sl, 5e-5, &label);
            assert_close(asa(720.0, 240.0, agents).unwrap().unwrap(), asa_secs, 5e-3, &label);
        }
    }

    #[test]
    fn an_overloaded_queue_has_no_service_and_no_asa() {
        // 48 Erlangs on 48 and 40 agents.
        for agents in [48, 40] {
            assert_eq!(service_level(720.0, 240.0, agents, 20.0).unwrap(), 0.0, "{agents} agents");
            assert_eq!(asa(720.0, 240.0, agents).unwrap(), None, "{agents} agents");
        }
    }

    #[test]
    fn agents_needed_is_the_smallest_staff_meeting_every_target() {
        // (calls per interval, interval s, AHT s, target s, target SL, max occupancy, agents)
        let cases = [
            (360.0, 1800.0, 240.0, 20.0, 0.80, None, 54),
            (360.0, 1800.0, 240.0, 20.0, 0.85, None, 55),
            (360.0, 1800.0, 240.0, 20.0, 0.90, None, 56),
            (360.0, 1800.0, 240.0, 20.0, 0.80, Some(0.85), 57), // 48 / 57 ≤ 0.85 < 48 / 56
            (100.0, 1800.0, 180.0, 20.0, 0.80, None, 14),       // 10 Erlangs: 13 agents give 79.6 %
            (1.0, 3600.0, 60.0, 20.0, 0.0, None, 1),            // any steady state meets a 0 target
            (0.0, 1800.0, 240.0, 20.0, 0.80, None, 0),
        ];
        for (calls, interval, aht, target_secs, target_sl, cap, expected) in cases {
            assert_eq!(
                agents_needed(calls, interval, aht, target_secs, target_sl, cap).unwrap(),
                expected,
                "{calls} calls per {interval} s, AHT {aht} s, {target_sl} in {target_secs} s, cap {cap:?}"
            );
        }
    }

    #[test]
    fn invalid_inputs_are_refused() {
        let cases = [
            erlang_b(-1.0, 3),
            erlang_c(f64::NAN, 3),
            service_level(720.0, 0.0, 50, 20.0),
            service_level(720.0, 240.0, 50, -1.0),
            agents_needed(360.0, 1800.0, 240.0, 20.0, 1.5, None).map(f64::from),
            agents_needed(360.0, 1800.0, 240.0, 20.0, 1.0, None).map(f64::from), // never reachable
            agents_needed(360.0, 1800.0, 240.0, 20.0, 0.8, Some(0.0)).map(f64::from),
        ];
        for (i, result) in cases.into_iter().enumerate() {
            assert!(matches!(result, Err(AnalyticsError::InvalidInput(_))), "case {i}: {result:?}");
        }
    }
}
