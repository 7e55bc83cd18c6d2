//! A lock-free, HDR-style latency histogram in microseconds.
//!
//! Values below 128 µs have a bucket each; above, every power of two is split into 64 buckets, so
//! a reported quantile is at most 1/64 (1.6 %) above the true value. Recording is one relaxed
//! atomic add, so thousands of subscriber tasks share one histogram without a lock, and its size is
//! fixed (about 30 KiB) however many values it holds.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Values below this have a bucket of their own.
const EXACT: u64 = 128;
/// Buckets per power of two above `EXACT`.
const PER_OCTAVE: u64 = 64;
/// Bucket count: the exact ones plus 64 per power of two from 2^7 up to 2^63.
const BUCKETS: usize = (EXACT + (64 - 7) * PER_OCTAVE) as usize;

/// The bucket a value falls in.
fn bucket_of(value: u64) -> usize {
    if value < EXACT {
        return value as usize;
    }
    let msb = 63 - u64::from(value.leading_zeros());
    let shift = msb - 6;
    let top = value >> shift;
    (EXACT + (shift - 1) * PER_OCTAVE + (top - PER_OCTAVE)) as usize
}

/// The highest value that falls in a bucket.
fn highest_in(bucket: usize) -> u64 {
    let bucket = bucket as u64;
    if bucket < EXACT {
        return bucket;
    }
    let shift = (bucket - EXACT) / PER_OCTAVE + 1;
    let top = (bucket - EXACT) % PER_OCTAVE + PER_OCTAVE;
    ((top + 1) << shift).wrapping_sub(1)
}

/// Counts of values by bucket, shared by every task that records.
pub struct LatencyHistogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum: AtomicU64,
    max: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    /// Records one value in microseconds; safe to call from any number of tasks at once.
    pub fn record(&self, micros: u64) {
        self.buckets[bucket_of(micros)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(micros, Ordering::Relaxed);
        self.max.fetch_max(micros, Ordering::Relaxed);
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The value at quantile `q` (0.0..=1.0): the highest value of the bucket holding the
    /// `ceil(q * count)`-th smallest value, never above the exact maximum; 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        let count = self.count();
        if count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * count as f64).ceil() as u64).max(1);
        let max = self.max.load(Ordering::Relaxed);
        let mut seen = 0;
        for (bucket, n) in self.buckets.iter().enumerate() {
            seen += n.load(Ordering::Relaxed);
            if seen >= rank {
                return highest_in(bucket).min(max);
            }
        }
        max
    }

    /// The usual summary, in milliseconds.
    pub fn summary(&self) -> LatencySummary {
        let count = self.count();
        let ms = |micros: u64| micros as f64 / 1000.0;
        LatencySummary {
            count,
            mean_ms: if count == 0 { 0.0 } else { ms(self.sum.load(Ordering::Relaxed)) / count as f64 },
            p50_ms: ms(self.quantile(0.50)),
            p90_ms: ms(self.quantile(0.90)),
            p99_ms: ms(self.quantile(0.99)),
            max_ms: ms(self.max.load(Ordering::Relaxed)),
        }
    }
}

/// Quantiles of the recorded latencies, in milliseconds (all 0 when nothing was recorded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_ordered() {
        // value -> bucket, as data: exact below 128, then 64 per power of two.
        let cases = [(0, 0), (127, 127), (128, 128), (129, 128), (130, 129), (255, 191), (256, 192), (511, 255)];
        for (value, bucket) in cases {
            assert_eq!(bucket_of(value), bucket, "value {value}");
        }
        for bucket in 0..BUCKETS - 1 {
            assert_eq!(bucket_of(highest_in(bucket)), bucket);
            assert_eq!(bucket_of(highest_in(bucket) + 1), bucket + 1);
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_of_a_uniform_spread_are_within_two_percent() {
        let histogram = LatencyHistogram::new();
        for micros in 1..=100_000 {
            histogram.record(micros);
        }
        for (q, exact) in [(0.5, 50_000.0), (0.9, 90_000.0), (0.99, 99_000.0)] {
            let got = histogram.quantile(q) as f64;
            assert!(got >= exact && got <= exact * 1.02, "q{q}: {got} vs {exact}");
        }
        assert_eq!(histogram.quantile(1.0), 100_000);
        assert_eq!(histogram.summary().max_ms, 100.0);
    }

    #[test]
    fn an_empty_histogram_summarises_to_zero() {
        assert_eq!(LatencyHistogram::new().summary(), LatencySummary::default());
    }
}
