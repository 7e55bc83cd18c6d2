//! The retry policy: exponential back-off with jitter (via `backon`), bounded in attempts and in
//! total time, where a server's `Retry-After` replaces the computed delay.

use std::time::Duration;

use backon::ExponentialBuilder;

use crate::error::XapiError;

/// How a failed call of a retryable kind is tried again.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: never retry).
    pub max_retries: usize,
    /// Delay before the first retry.
    pub initial_delay: Duration,
    /// Largest computed delay between attempts.
    pub max_delay: Duration,
    /// Growth of the delay from one retry to the next.
    pub factor: f32,
    /// Whether to add random jitter to computed delays (spreads clients that failed together).
    pub jitter: bool,
    /// Time budget of the whole call from its first attempt: no retry starts whose wait would end
    /// after it.
    pub max_elapsed: Duration,
    /// Longest `Retry-After` honoured; when the server asks for longer, the call fails at once
    /// with the server's error (which carries the delay) instead of waiting.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 3 retries from 200 ms doubling up to 5 s with jitter, within 30 s; `Retry-After` up to 60 s.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            factor: 2.0,
            jitter: true,
            max_elapsed: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> RetryPolicy {
        RetryPolicy { max_retries: 0, ..RetryPolicy::default() }
    }

    /// The `backon` back-off this policy computes delays with.
    pub(crate) fn backoff(&self) -> ExponentialBuilder {
        let builder = ExponentialBuilder::default()
            .with_min_delay(self.initial_delay)
            .with_max_delay(self.max_delay)
            .with_factor(self.factor)
            .with_max_times(self.max_retries);
        if self.jitter {
            builder.with_jitter()
        } else {
            builder
        }
    }

    /// The wait before the next attempt after `error`, given the back-off's proposal (`None`
    /// when retries are used up) and the time already spent; `None` means give up. A
    /// `Retry-After` replaces the proposal, within [`RetryPolicy::max_retry_after`].
    pub(crate) fn next_delay(
        &self,
        error: &XapiError,
        proposed: Option<Duration>,
        elapsed: Duration,
    ) -> Option<Duration> {
        let delay = match error.retry_after() {
            Some(_) if proposed.is_none() => return None,
            Some(asked) if asked > self.max_retry_after => return None,
            Some(asked) => asked,
            None => proposed?,
        };
        (elapsed + delay <= self.max_elapsed).then_some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_delay_prefers_retry_after_within_bounds() {
        let policy = RetryPolicy { max_elapsed: Duration::from_secs(10), ..RetryPolicy::default() };
        let limited = |secs| XapiError::RateLimited { retry_after: Some(Duration::from_secs(secs)) };
        let ms = Duration::from_millis;
        let cases: Vec<(XapiError, Option<Duration>, Duration, Option<Duration>)> = vec![
            (XapiError::Timeout, Some(ms(200)), ms(0), Some(ms(200))),
            (XapiError::Timeout, None, ms(0), None),
            (limited(2), Some(ms(200)), ms(0), Some(ms(2000))),
            (limited(2), None, ms(0), None),
            (limited(61), Some(ms(200)), ms(0), None),
            (limited(2), Some(ms(200)), ms(9000), None),
            (XapiError::Timeout, Some(ms(200)), ms(9900), None),
        ];
        for (error, proposed, elapsed, expected) in cases {
            assert_eq!(policy.next_delay(&error, proposed, elapsed), expected, "{error:?} {proposed:?} {elapsed:?}");
        }
    }
}
