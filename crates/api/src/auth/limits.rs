//! Rate limits: per caller (user login session or API key), per client address, and the login
//! throttle (per username and per address) against password guessing.
//!
//! Each limit is a token bucket (GCRA, the `governor` crate) kept in this process's memory: with
//! several API nodes behind a balancer every node enforces the limit on what it sees.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use lineup_domain::{Principal, Subject};
use uuid::Uuid;

use crate::error::ApiError;

/// A rate: `burst` requests at once, refilled at `per_second` requests a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

impl Rate {
    /// `n` requests a minute with a burst of `burst`.
    pub fn per_minute(n: u32, burst: u32) -> Rate {
        Rate { per_second: f64::from(n) / 60.0, burst }
    }

    fn quota(self) -> Option<Quota> {
        let burst = NonZeroU32::new(self.burst)?;
        if !(self.per_second.is_finite() && self.per_second > 0.0) {
            return None;
        }
        let period = Duration::from_secs_f64(1.0 / self.per_second).max(Duration::from_nanos(1));
        Quota::with_period(period).map(|q| q.allow_burst(burst))
    }
}

/// The limits of the API. `None` turns a limit off.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimits {
    /// Every request of one client address.
    pub per_ip: Option<Rate>,
    /// Every authenticated request of one login session or API key.
    pub per_principal: Option<Rate>,
    /// Login attempts naming one username, from anywhere.
    pub login_per_username: Option<Rate>,
    /// Login attempts from one client address.
    pub login_per_ip: Option<Rate>,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_ip: Some(Rate { per_second: 200.0, burst: 400 }),
            per_principal: Some(Rate { per_second: 100.0, burst: 200 }),
            login_per_username: Some(Rate::per_minute(5, 5)),
            login_per_ip: Some(Rate::per_minute(30, 10)),
        }
    }
}

impl RateLimits {
    /// No limits at all (tests and benchmarks that measure something else).
    pub fn off() -> RateLimits {
        RateLimits { per_ip: None, per_principal: None, login_per_username: None, login_per_ip: None }
    }
}

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

struct Limit<K: std::hash::Hash + Eq + Clone> {
    limiter: Keyed<K>,
    checks: AtomicU64,
}

impl<K: std::hash::Hash + Eq + Clone> Limit<K> {
    fn new(rate: Option<Rate>) -> Option<Self> {
        Some(Limit { limiter: RateLimiter::keyed(rate?.quota()?), checks: AtomicU64::new(0) })
    }

    fn check(&self, key: &K) -> Result<(), ApiError> {
        // Forget idle keys now and then, so memory follows the active callers.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(key)
            .map_err(|not_until| ApiError::RateLimited(not_until.wait_time_from(DefaultClock::default().now())))
    }
}

/// The limiters of one API process.
pub struct Limiters {
    per_ip: Option<Limit<IpAddr>>,
    per_principal: Option<Limit<Uuid>>,
    login_per_username: Option<Limit<String>>,
    login_per_ip: Option<Limit<IpAddr>>,
}

impl Limiters {
    /// Fresh limiters for `limits`.
    pub fn new(limits: &RateLimits) -> Limiters {
        Limiters {
            per_ip: Limit::new(limits.per_ip),
            per_principal: Limit::new(limits.per_principal),
            login_per_username: Limit::new(limits.login_per_username),
            login_per_ip: Limit::new(limits.login_per_ip),
        }
    }

    /// Charges one request of `ip`.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.per_ip.as_ref().map_or(Ok(()), |l| l.check(&ip))
    }

    /// Charges one request of the principal's login session or API key.
    pub fn check_principal(&self, principal: &Principal) -> Result<(), ApiError> {
        let key = match &principal.subject {
            Subject::User { session_id, .. } => *session_id,
            Subject::ApiKey { key_id, .. } => *key_id,
        };
        self.per_principal.as_ref().map_or(Ok(()), |l| l.check(&key))
    }

    /// Charges one login attempt for `username` from `ip` (before the password is looked at).
    pub fn check_login(&self, username: &str, ip: Option<IpAddr>) -> Result<(), ApiError> {
        if let (Some(limit), Some(ip)) = (&self.login_per_ip, ip) {
            limit.check(&ip)?;
        }
        self.login_per_username.as_ref().map_or(Ok(()), |l| l.check(&username.to_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_wait() {
        let limiters =
            Limiters::new(&RateLimits { login_per_username: Some(Rate::per_minute(6, 3)), ..RateLimits::off() });
        for _ in 0..3 {
            limiters.check_login("alice", None).unwrap();
        }
        match limiters.check_login("ALICE", None) {
            Err(ApiError::RateLimited(wait)) => {
                assert!(wait > Duration::from_secs(5) && wait <= Duration::from_secs(10))
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
        limiters.check_login("bob", None).unwrap();
    }

    #[test]
    fn zero_or_invalid_rates_turn_a_limit_off() {
        assert!(Rate { per_second: 0.0, burst: 5 }.quota().is_none());
        assert!(Rate { per_second: 5.0, burst: 0 }.quota().is_none());
        assert!(Rate { per_second: f64::NAN, burst: 5 }.quota().is_none());
    }
}
