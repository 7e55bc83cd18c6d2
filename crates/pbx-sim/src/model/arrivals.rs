//! Arrivals: a non-homogeneous Poisson process whose rate is a step function of the local time of
//! day, sampled exactly by inverting the integrated rate (no thinning, no rejection), and the
//! caller-number generator.

use rand::Rng;
use rand_distr::Exp1;

use super::config::{CallerConfig, DAY_MS};
use super::events::SimMs;

/// A queue's arrival rate over the local day, anchored to the simulation's start.
#[derive(Clone, Debug)]
pub struct ArrivalProfile {
    /// Local time of day (ms since local midnight, in [0, DAY_MS)) at simulation time 0.
    origin_tod_ms: i64,
    /// Length of one slot.
    slot_ms: i64,
    /// Arrivals per millisecond in each slot.
    rates_per_ms: Vec<f64>,
}

impl ArrivalProfile {
    /// Builds the profile from per-hour rates of equal slots; `origin_tod_ms` is the local time
    /// of day at simulation time 0. The slot count should divide the day (config validation
    /// insists); an empty list means no arrivals, a non-finite or negative rate counts as zero.
    pub fn new(arrivals_per_hour: &[f64], origin_tod_ms: i64) -> Self {
        let slots = arrivals_per_hour.len().max(1) as i64;
        ArrivalProfile {
            origin_tod_ms: origin_tod_ms.rem_euclid(DAY_MS),
            slot_ms: (DAY_MS / slots).max(1),
            // A rate that is not a finite non-negative number (rejected by validation) counts as 0.
            rates_per_ms: arrivals_per_hour
                .iter()
                .map(|r| if r.is_finite() && *r > 0.0 { r / 3_600_000.0 } else { 0.0 })
                .collect(),
        }
    }

    fn rate_at_slot(&self, absolute_slot: i64) -> f64 {
        let n = self.rates_per_ms.len() as i64;
        if n == 0 {
            return 0.0;
        }
        self.rates_per_ms[absolute_slot.rem_euclid(n) as usize]
    }

    /// The next arrival after simulation time `after_ms` (fractional milliseconds), or `None`
    /// if the profile is zero all day.
    pub fn next_arrival<R: Rng + ?Sized>(&self, after_ms: f64, rng: &mut R) -> Option<f64> {
        if self.rates_per_ms.iter().all(|r| *r <= 0.0) {
            return None;
        }
        let mut budget: f64 = rng.sample(Exp1);
        let mut t = after_ms;
        loop {
            // Slots are counted from local midnight before the start, so their boundaries are
            // whole milliseconds and the walk below always advances.
            let local = self.origin_tod_ms as f64 + t;
            let slot = (local / self.slot_ms as f64).floor() as i64;
            let slot_end = ((slot + 1) * self.slot_ms - self.origin_tod_ms) as f64;
            let remaining = slot_end - t;
            let rate = self.rate_at_slot(slot);
            if rate > 0.0 && rate * remaining >= budget {
                return Some(t + budget / rate);
            }
            budget -= rate * remaining.max(0.0);
            t = slot_end;
        }
    }

    /// Expected number of arrivals between simulation times `from_ms` and `to_ms` (the
    /// integral of the rate), for statistical checks.
    pub fn expected_arrivals(&self, from_ms: SimMs, to_ms: SimMs) -> f64 {
        let mut total = 0.0;
        let mut t = from_ms;
        while t < to_ms {
            let slot = (self.origin_tod_ms + t).div_euclid(self.slot_ms);
            let slot_end = (slot + 1) * self.slot_ms - self.origin_tod_ms;
            let end = slot_end.min(to_ms);
            total += self.rate_at_slot(slot) * (end - t) as f64;
            t = end;
        }
        total
    }
}

/// Draws a caller number from the configured pool: prefix + zero-padded index.
pub(crate) fn caller_number<R: Rng + ?Sized>(callers: &CallerConfig, rng: &mut R) -> String {
    let index = rng.random_range(0..callers.pool_size.max(1));
    format!("{}{:0width$}", callers.number_prefix, index, width = callers.number_digits as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::dist::{stream_rng, Stream};

    const HOUR: i64 = 3_600_000;

    #[test]
    fn expected_arrivals_integrate_the_step_function() {
        // 24 hourly slots: 10/h before noon, 30/h after; the start is at 11:30 local time.
        let rates: Vec<f64> = (0..24).map(|h| if h < 12 { 10.0 } else { 30.0 }).collect();
        let profile = ArrivalProfile::new(&rates, 11 * HOUR + HOUR / 2);
        let cases: &[(i64, i64, f64)] = &[
            (0, HOUR / 2, 5.0),                      // 11:30-12:00
            (0, HOUR, 5.0 + 15.0),                   // 11:30-12:30
            (HOUR / 2, 12 * HOUR + HOUR / 2, 360.0), // 12:00-24:00
            (0, 24 * HOUR, 480.0),                   // a whole day is the daily total
            (24 * HOUR, 48 * HOUR, 480.0),
        ];
        for &(from, to, expected) in cases {
            let got = profile.expected_arrivals(from, to);
            assert!((got - expected).abs() < 1e-9, "{from}..{to}: {got} != {expected}");
        }
    }

    #[test]
    fn arrivals_follow_the_profile_over_many_days() {
        let rates: Vec<f64> = (0..24).map(|h| if (9..17).contains(&h) { 120.0 } else { 6.0 }).collect();
        let profile = ArrivalProfile::new(&rates, 0);
        let mut rng = stream_rng(42, Stream::Arrivals, 0);
        let days = 20;
        let mut per_hour = [0u32; 24];
        let mut t = 0.0;
        while let Some(next) = profile.next_arrival(t, &mut rng) {
            if next >= (days * 24 * HOUR) as f64 {
                break;
            }
            assert!(next > t, "arrival times increase");
            per_hour[((next as i64 / HOUR) % 24) as usize] += 1;
            t = next;
        }
        for (h, count) in per_hour.iter().enumerate() {
            let expected = rates[h] * days as f64;
            let tolerance = 5.0 * expected.sqrt();
            assert!((*count as f64 - expected).abs() <= tolerance, "hour {h}: {count} arrivals, expected {expected}");
        }
    }

    #[test]
    fn a_zero_profile_never_produces_an_arrival() {
        let profile = ArrivalProfile::new(&[0.0; 24], 0);
        let mut rng = stream_rng(1, Stream::Arrivals, 0);
        assert_eq!(profile.next_arrival(0.0, &mut rng), None);
    }

    #[test]
    fn caller_numbers_are_prefixed_and_padded() {
        let callers = CallerConfig {
            trunk_dn: "10000".into(),
            trunk_name: "Trunk".into(),
            number_prefix: "+49".into(),
            number_digits: 4,
            pool_size: 10,
        };
        let mut rng = stream_rng(3, Stream::Call, 1);
        for _ in 0..50 {
            let number = caller_number(&callers, &mut rng);
            assert!(number.starts_with("+49000"), "{number}");
            assert_eq!(number.len(), 7);
        }
    }
}
