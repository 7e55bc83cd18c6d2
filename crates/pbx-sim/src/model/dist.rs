//! Duration distributions (talk, wrap-up, patience, breaks, answer delay) and the seeded random
//! streams they draw from. Every random draw in the model comes from a stream derived from the
//! simulation seed and a fixed (domain, index) pair, so one queue's or call's draws never shift
//! another's.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1, LogNormal};
use serde::{Deserialize, Serialize};

use super::config::ConfigError;

/// Longest duration a sample can take (30 days): a longer one would be a configuration slip,
/// and the cap keeps every event time far from overflow.
pub(crate) const MAX_DURATION_MS: i64 = 30 * 86_400_000;

/// A distribution of non-negative durations in seconds; samples are rounded to milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum DurationDist {
    /// Always the same duration.
    Fixed {
        /// The duration, zero or more.
        secs: f64,
    },
    /// Uniform between two bounds.
    Uniform {
        /// Lower bound, zero or more.
        min_secs: f64,
        /// Upper bound, at least `min_secs`.
        max_secs: f64,
    },
    /// Exponential with the given mean (memoryless; the usual model of caller patience).
    Exponential {
        /// The mean, more than zero.
        mean_secs: f64,
    },
    /// Log-normal with the given mean and standard deviation (the usual model of talk time).
    #[serde(rename = "lognormal")]
    LogNormal {
        /// The mean, more than zero.
        mean_secs: f64,
        /// The standard deviation, zero or more.
        sd_secs: f64,
    },
}

impl DurationDist {
    /// The distribution's mean in seconds.
    pub fn mean_secs(&self) -> f64 {
        match *self {
            DurationDist::Fixed { secs } => secs,
            DurationDist::Uniform { min_secs, max_secs } => (min_secs + max_secs) / 2.0,
            DurationDist::Exponential { mean_secs } | DurationDist::LogNormal { mean_secs, .. } => mean_secs,
        }
    }

    /// Draws one duration in whole milliseconds, between 0 and [`MAX_DURATION_MS`].
    pub(crate) fn sample_ms<R: Rng + ?Sized>(&self, rng: &mut R) -> i64 {
        let secs = match *self {
            DurationDist::Fixed { secs } => secs,
            DurationDist::Uniform { min_secs, max_secs } => min_secs + (max_secs - min_secs) * rng.random::<f64>(),
            DurationDist::Exponential { mean_secs } => mean_secs * rng.sample::<f64, _>(Exp1),
            DurationDist::LogNormal { mean_secs, sd_secs } => {
                let sigma2 = (1.0 + (sd_secs / mean_secs).powi(2)).ln();
                let mu = mean_secs.ln() - sigma2 / 2.0;
                match LogNormal::new(mu, sigma2.sqrt()) {
                    Ok(d) => d.sample(rng),
                    // Unreachable for a validated distribution; the mean is the honest fallback.
                    Err(_) => mean_secs,
                }
            }
        };
        ((secs * 1000.0).round().max(0.0) as i64).min(MAX_DURATION_MS)
    }

    /// Checks the parameters; `path` names the field in errors.
    pub(crate) fn check(&self, path: &str) -> Result<(), ConfigError> {
        let ok = |x: f64| x.is_finite() && x >= 0.0;
        let problem = match *self {
            DurationDist::Fixed { secs } if !ok(secs) => Some("secs must be a finite number, zero or more"),
            DurationDist::Uniform { min_secs, max_secs } if !ok(min_secs) || !ok(max_secs) || max_secs < min_secs => {
                Some("needs 0 <= minSecs <= maxSecs, both finite")
            }
            DurationDist::Exponential { mean_secs } if !ok(mean_secs) || mean_secs == 0.0 => {
                Some("meanSecs must be a finite number above zero")
            }
            DurationDist::LogNormal { mean_secs, sd_secs } if !ok(mean_secs) || mean_secs == 0.0 || !ok(sd_secs) => {
                Some("needs a finite meanSecs above zero and a finite sdSecs, zero or more")
            }
            _ => None,
        };
        match problem {
            Some(message) => Err(ConfigError::new(path, message)),
            None => Ok(()),
        }
    }
}

/// Which part of the model a random stream belongs to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stream {
    /// Arrival times of one queue (index: queue position).
    Arrivals = 1,
    /// Decisions of one agent: answer delay, misses, wrap-up, breaks (index: agent position).
    Agent = 2,
    /// Attributes of one call: caller number, patience, talk, voicemail (index: call id).
    Call = 3,
}

/// The random stream for (`stream`, `index`) under `seed`: same inputs, same numbers.
pub(crate) fn stream_rng(seed: u64, stream: Stream, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((stream as u64) << 56) ^ index);
    rng
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_mean(dist: &DurationDist, n: usize) -> f64 {
        let mut rng = stream_rng(7, Stream::Call, 1);
        (0..n).map(|_| dist.sample_ms(&mut rng) as f64 / 1000.0).sum::<f64>() / n as f64
    }

    #[test]
    fn sample_means_match_the_configured_means() {
        let cases = [
            DurationDist::Fixed { secs: 12.5 },
            DurationDist::Uniform { min_secs: 10.0, max_secs: 30.0 },
            DurationDist::Exponential { mean_secs: 90.0 },
            DurationDist::LogNormal { mean_secs: 150.0, sd_secs: 90.0 },
        ];
        for dist in cases {
            let mean = sample_mean(&dist, 40_000);
            let expected = dist.mean_secs();
            assert!((mean - expected).abs() <= expected * 0.03, "{dist:?}: sample mean {mean}, expected {expected}");
        }
    }

    #[test]
    fn streams_differ_by_index_and_repeat_by_seed() {
        let draw = |seed, index| stream_rng(seed, Stream::Agent, index).random::<u64>();
        assert_eq!(draw(1, 5), draw(1, 5));
        assert_ne!(draw(1, 5), draw(1, 6));
        assert_ne!(draw(1, 5), draw(2, 5));
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        let cases = [
            DurationDist::Fixed { secs: -1.0 },
            DurationDist::Uniform { min_secs: 5.0, max_secs: 1.0 },
            DurationDist::Exponential { mean_secs: 0.0 },
            DurationDist::LogNormal { mean_secs: f64::NAN, sd_secs: 1.0 },
            DurationDist::LogNormal { mean_secs: 10.0, sd_secs: f64::INFINITY },
        ];
        for dist in cases {
            assert!(dist.check("x").is_err(), "{dist:?} accepted");
        }
    }
}
