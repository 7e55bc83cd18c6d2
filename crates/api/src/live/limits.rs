//! Live subscriptions counted per user (or API key) and limited.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use lineup_domain::{Principal, Subject};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// The subscriptions each subject holds now.
#[derive(Clone)]
pub(super) struct Subscriptions {
    max: usize,
    held: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl Subscriptions {
    pub(super) fn new(max: usize) -> Subscriptions {
        Subscriptions { max, held: Arc::default() }
    }

    /// One more subscription of the principal's subject, released when the guard drops;
    /// `TooManySubscriptions` when it holds the most it may.
    pub(super) fn admit(&self, principal: &Principal) -> ApiResult<SubscriptionGuard> {
        let subject = subject_id(principal);
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let count = held.entry(subject).or_default();
        if *count >= self.max {
            return Err(ApiError::TooManySubscriptions(format!(
                "this user already holds {} live subscriptions, the most it may; close one first",
                self.max
            )));
        }
        *count += 1;
        Ok(SubscriptionGuard { subscriptions: self.clone(), subject })
    }

    fn release(&self, subject: Uuid) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = held.get_mut(&subject) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&subject);
            }
        }
    }
}

/// One counted subscription; dropping it releases it.
pub struct SubscriptionGuard {
    subscriptions: Subscriptions,
    subject: Uuid,
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.subscriptions.release(self.subject);
    }
}

fn subject_id(principal: &Principal) -> Uuid {
    match &principal.subject {
        Subject::User { user_id, .. } => *user_id,
        Subject::ApiKey { key_id, .. } => *key_id,
    }
}

#[cfg(test)]
mod tests {
    use lineup_domain::Role;

    use super::*;

    fn user(id: Uuid) -> Principal {
        let subject = Subject::User { user_id: id, username: "ana".into(), session_id: Uuid::new_v4() };
        Principal { tenant_id: Uuid::new_v4(), role: Role::Supervisor, subject }
    }

    #[test]
    fn a_subject_holds_at_most_the_limit_and_dropping_frees_one() {
        let subs = Subscriptions::new(2);
        let (ana, bo) = (user(Uuid::new_v4()), user(Uuid::new_v4()));
        let first = subs.admit(&ana).unwrap();
        let _second = subs.admit(&ana).unwrap();
        assert!(matches!(subs.admit(&ana), Err(ApiError::TooManySubscriptions(_))));
        let _other = subs.admit(&bo).expect("counted per subject");
        drop(first);
        let _third = subs.admit(&ana).expect("a dropped subscription frees its place");
    }
}
