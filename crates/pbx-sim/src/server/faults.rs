//! Faults on demand: what the next requests to a route suffer (401, 429 with `Retry-After`,
//! 500, 503, a hang past the client's timeout, a slow answer, truncated JSON, duplicated or
//! reordered rows). Tests arm faults through `POST /sim/faults` or [`Faults::arm`]; each armed
//! fault hits a number of matching requests, in order, then disarms.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One kind of fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Fault {
    /// `401 Unauthorized`, as when 3CX has dropped the token.
    Unauthorized,
    /// `429 Too Many Requests` with `Retry-After: <seconds>`.
    RateLimited {
        /// The `Retry-After` value.
        retry_after_secs: u64,
    },
    /// `500 Internal Server Error` with an OData error body.
    ServerError,
    /// `503 Service Unavailable`, with `Retry-After` when given.
    Unavailable {
        /// The `Retry-After` value, if any.
        retry_after_secs: Option<u64>,
    },
    /// No answer for this long (longer than the client's timeout).
    Hang {
        /// The delay before the (by then unwanted) answer.
        millis: u64,
    },
    /// The right answer, this late.
    Slow {
        /// The delay before the answer.
        millis: u64,
    },
    /// A `200` whose JSON body is cut in half.
    TruncatedJson,
    /// Every row of the page twice.
    DuplicateRows,
    /// The rows of the page in reverse order.
    ReorderRows,
}

impl Fault {
    /// How long the fault delays the answer.
    pub fn delay(&self) -> Option<Duration> {
        match self {
            Fault::Hang { millis } | Fault::Slow { millis } => Some(Duration::from_millis(*millis)),
            _ => None,
        }
    }
}

/// A fault armed for the next `times` requests whose path contains `path_contains` (every
/// XAPI request when empty; the token endpoint is `/connect/token`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmedFault {
    /// What the requests suffer.
    #[serde(flatten)]
    pub fault: Fault,
    /// Which requests: those whose (percent-decoded) path contains this text.
    #[serde(default)]
    pub path_contains: String,
    /// How many requests, one by default.
    #[serde(default = "one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

/// The armed faults of a running simulator.
#[derive(Debug, Default)]
pub struct Faults {
    armed: Mutex<VecDeque<ArmedFault>>,
}

impl Faults {
    /// Arms `fault` after those already armed.
    pub fn arm(&self, fault: ArmedFault) {
        if fault.times > 0 {
            self.lock().push_back(fault);
        }
    }

    /// Disarms everything.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The fault this request to `path` suffers, if any (consuming one of its `times`).
    pub fn take(&self, path: &str) -> Option<Fault> {
        let mut armed = self.lock();
        let at = armed.iter().position(|f| path.contains(&f.path_contains))?;
        let entry = &mut armed[at];
        entry.times -= 1;
        let fault = entry.fault.clone();
        if entry.times == 0 {
            armed.remove(at);
        }
        Some(fault)
    }

    /// The fault this request to `path` suffers from faults armed for it by name: an empty
    /// `path_contains` does not match (the token endpoint uses this, so "every XAPI request"
    /// faults leave token requests alone).
    pub fn take_named(&self, path: &str) -> Option<Fault> {
        let mut armed = self.lock();
        let at = armed.iter().position(|f| !f.path_contains.is_empty() && path.contains(&f.path_contains))?;
        let entry = &mut armed[at];
        entry.times -= 1;
        let fault = entry.fault.clone();
        if entry.times == 0 {
            armed.remove(at);
        }
        Some(fault)
    }

    /// What is still armed.
    pub fn pending(&self) -> Vec<ArmedFault> {
        self.lock().iter().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<ArmedFault>> {
        self.armed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn armed_faults_hit_matching_requests_in_order_then_disarm() {
        let faults = Faults::default();
        faults.arm(ArmedFault { fault: Fault::ServerError, path_contains: "/ActiveCalls".into(), times: 2 });
        faults.arm(ArmedFault { fault: Fault::Unauthorized, path_contains: String::new(), times: 1 });
        assert_eq!(faults.take("/xapi/v1/Queues"), Some(Fault::Unauthorized));
        assert_eq!(faults.take("/xapi/v1/ActiveCalls"), Some(Fault::ServerError));
        assert_eq!(faults.take("/xapi/v1/ActiveCalls"), Some(Fault::ServerError));
        assert_eq!(faults.take("/xapi/v1/ActiveCalls"), None);
        assert!(faults.pending().is_empty());
    }

    #[test]
    fn named_faults_ignore_the_wildcard() {
        let faults = Faults::default();
        faults.arm(ArmedFault { fault: Fault::ServerError, path_contains: String::new(), times: 1 });
        faults.arm(ArmedFault { fault: Fault::Unauthorized, path_contains: "/connect/token".into(), times: 1 });
        assert_eq!(faults.take_named("/connect/token"), Some(Fault::Unauthorized));
        assert_eq!(faults.take_named("/connect/token"), None);
        assert_eq!(faults.take("/xapi/v1/Users"), Some(Fault::ServerError));
    }

    #[test]
    fn faults_read_from_json() {
        let f: ArmedFault =
            serde_json::from_str(r#"{"kind":"rateLimited","retryAfterSecs":2,"pathContains":"/Users","times":3}"#)
                .unwrap();
        assert_eq!(
            f,
            ArmedFault { fault: Fault::RateLimited { retry_after_secs: 2 }, path_contains: "/Users".into(), times: 3 }
        );
        let f: ArmedFault = serde_json::from_str(r#"{"kind":"truncatedJson"}"#).unwrap();
        assert_eq!((f.times, f.path_contains.as_str()), (1, ""));
    }
}
