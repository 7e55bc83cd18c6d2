//! Queue congestion alerts: a [`CongestionDetector`] fed live samples of a queue, judged against
//! absolute thresholds and the queue's [`Normal`] for the time of week, with hysteresis.
//!
//! A sample is **over** when any enabled raise test holds:
//! - `calls_waiting ≥ waiting_threshold`;
//! - `longest_wait_secs ≥ longest_wait_secs_threshold`;
//! - `calls_waiting ≥ relative_min_waiting` and `calls_waiting > normal × normal_factor`, where
//!   `normal` is the mean calls waiting of the sample's slot (skipped when the slot has no
//!   history).
//!
//! A sample is **clear** when every enabled test is below its raise threshold scaled by
//! `clear_factor` (in `(0, 1]`):
//! - `calls_waiting < waiting_threshold × clear_factor`;
//! - `longest_wait_secs < longest_wait_secs_threshold × clear_factor`;
//! - `calls_waiting < relative_min_waiting` or `calls_waiting ≤ normal × normal_factor ×
//!   clear_factor`.
//!
//! The alert is **raised** at the first sample that ends an unbroken run of over samples lasting
//! at least `raise_after_secs` (from the run's first sample to this one), and **cleared** at the
//! first sample that ends an unbroken run of clear samples lasting at least `clear_after_secs`.
//! Samples between the two thresholds break both runs, so a queue hovering at a threshold can't
//! flap.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::error::AnalyticsError;

/// One observation of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct QueueSample {
    /// When the sample was taken.
    pub at: DateTime<Utc>,
    /// Calls waiting at that moment.
    pub calls_waiting: u32,
    /// The longest current wait, in whole seconds.
    pub longest_wait_secs: u32,
}

/// The 15-minute slot of the UTC week an instant falls in: `0` is Monday 00:00–00:15 UTC,
/// `671` is Sunday 23:45–24:00 UTC.
pub fn week_slot(at: DateTime<Utc>) -> u16 {
    let day = at.weekday().num_days_from_monday() as u16;
    day * 96 + (at.hour() as u16) * 4 + (at.minute() as u16) / 15
}

/// History of one slot: the sum and count of its samples' calls waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SlotHistory {
    /// Samples taken in the slot.
    pub samples: u64,
    /// Their calls waiting, summed.
    pub total_calls_waiting: u64,
}

/// A queue's normal load per 15-minute slot of the UTC week ([`week_slot`]): the mean calls
/// waiting over the history samples in that slot. The mean is per sample, so history should be
/// sampled at a regular rate. UTC slots shift by an hour against local time across daylight
/// saving changes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Normal {
    /// Slot number → its history; slots without samples are absent.
    pub slots: BTreeMap<u16, SlotHistory>,
}

impl Normal {
    /// The normal of a history of samples.
    pub fn from_samples<'a>(history: impl IntoIterator<Item = &'a QueueSample>) -> Normal {
        let mut normal = Normal::default();
        for sample in history {
            let slot = normal.slots.entry(week_slot(sample.at)).or_default();
            slot.samples += 1;
            slot.total_calls_waiting += u64::from(sample.calls_waiting);
        }
        normal
    }

    /// The mean calls waiting of the slot containing `at`; `None` without history for that slot.
    pub fn mean_calls_waiting(&self, at: DateTime<Utc>) -> Option<f64> {
        let slot = self.slots.get(&week_slot(at)).filter(|slot| slot.samples > 0)?;
        Some(slot.total_calls_waiting as f64 / slot.samples as f64)
    }
}

/// When a queue counts as congested; `None` disables a test. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CongestionRule {
    /// Over at this many calls waiting or more.
    pub waiting_threshold: Option<u32>,
    /// Over when the longest wait reaches this many seconds.
    pub longest_wait_secs_threshold: Option<u32>,
    /// Over when calls waiting exceed the normal times this factor (e.g. 1.5); at least 1.
    pub normal_factor: Option<f64>,
    /// The relative test applies only from this many calls waiting (a quiet slot's normal of 0.2
    /// shouldn't make two waiting calls an alert).
    pub relative_min_waiting: u32,
    /// The fraction of each raise threshold that counts as clear, in `(0, 1]` (e.g. 0.8).
    pub clear_factor: f64,
    /// How long samples must stay over before the alert is raised, in seconds (0: at once).
    pub raise_after_secs: u32,
    /// How long samples must stay clear before the alert is cleared, in seconds (0: at once).
    pub clear_after_secs: u32,
}

impl CongestionRule {
    /// Checks the documented ranges of the factors.
    pub fn validate(&self) -> Result<(), AnalyticsError> {
        if !(self.clear_factor > 0.0 && self.clear_factor <= 1.0) {
            return Err(AnalyticsError::InvalidInput("clear_factor must be in (0, 1]".into()));
        }
        if self.normal_factor.is_some_and(|factor| !(factor.is_finite() && factor >= 1.0)) {
            return Err(AnalyticsError::InvalidInput("normal_factor must be finite and at least 1".into()));
        }
        Ok(())
    }
}

/// Which raise test a sample failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum CongestionReason {
    /// `calls_waiting ≥ waiting_threshold`.
    CallsWaiting,
    /// `longest_wait_secs ≥ longest_wait_secs_threshold`.
    LongestWait,
    /// `calls_waiting > normal × normal_factor`.
    AboveNormal,
}

/// The alert went up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CongestionRaised {
    /// The sample that raised it.
    pub sample: QueueSample,
    /// The normal calls waiting for its slot, if known.
    pub normal_calls_waiting: Option<f64>,
    /// The raise tests that sample failed (at least one).
    pub reasons: Vec<CongestionReason>,
    /// When the run of over samples began.
    pub over_since: DateTime<Utc>,
}

/// The alert went down.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CongestionCleared {
    /// The sample that cleared it.
    pub at: DateTime<Utc>,
    /// When the alert was raised.
    pub raised_at: DateTime<Utc>,
    /// The most calls waiting seen while raised.
    pub peak_calls_waiting: u32,
    /// The longest wait seen while raised, in seconds.
    pub peak_longest_wait_secs: u32,
}

/// A change of alert state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum CongestionEvent {
    /// The alert was raised.
    Raised(CongestionRaised),
    /// The alert was cleared.
    Cleared(CongestionCleared),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum AlertState {
    Calm { over_since: Option<DateTime<Utc>> },
    Raised { raised_at: DateTime<Utc>, clear_since: Option<DateTime<Utc>>, peak_waiting: u32, peak_longest: u32 },
}

/// The congestion alert of one queue; see the [module docs](self) for the exact rule.
#[derive(Debug, Clone)]
pub struct CongestionDetector {
    rule: CongestionRule,
    normal: Normal,
    state: AlertState,
    latest: Option<DateTime<Utc>>,
}

impl CongestionDetector {
    /// A calm detector; fails when the rule is invalid.
    pub fn new(rule: CongestionRule, normal: Normal) -> Result<CongestionDetector, AnalyticsError> {
        rule.validate()?;
        Ok(CongestionDetector { rule, normal, state: AlertState::Calm { over_since: None }, latest: None })
    }

    /// Whether the alert is raised.
    pub fn is_raised(&self) -> bool {
        matches!(self.state, AlertState::Raised { .. })
    }

    /// The raise tests a sample fails (empty when it is not over).
    pub fn over_reasons(&self, sample: &QueueSample) -> Vec<CongestionReason> {
        let rule = &self.rule;
        let mut reasons = Vec::new();
        if rule.waiting_threshold.is_some_and(|threshold| sample.calls_waiting >= threshold) {
            reasons.push(CongestionReason::CallsWaiting);
        }
        if rule.longest_wait_secs_threshold.is_some_and(|threshold| sample.longest_wait_secs >= threshold) {
            reasons.push(CongestionReason::LongestWait);
        }
        if let (Some(factor), Some(normal)) = (rule.normal_factor, self.normal.mean_calls_waiting(sample.at)) {
            let waiting = sample.calls_waiting;
            if waiting >= rule.relative_min_waiting && f64::from(waiting) > normal * factor {
                reasons.push(CongestionReason::AboveNormal);
            }
        }
        reasons
    }

    /// Whether a sample is below every clear threshold.
    pub fn is_clear(&self, sample: &QueueSample) -> bool {
        let rule = &self.rule;
        let scaled = |threshold: u32| f64::from(threshold) * rule.clear_factor;
        let waiting = f64::from(sample.calls_waiting);
        let waiting_clear = rule.waiting_threshold.is_none_or(|threshold| waiting < scaled(threshold));
        let longest_clear = rule
            .longest_wait_secs_threshold
            .is_none_or(|threshold| f64::from(sample.longest_wait_secs) < scaled(threshold));
        let relative_clear = match (rule.normal_factor, self.normal.mean_calls_waiting(sample.at)) {
            (Some(factor), Some(normal)) => {
                sample.calls_waiting < rule.relative_min_waiting || waiting <= normal * factor * rule.clear_factor
            }
            _ => true,
        };
        waiting_clear && longest_clear && relative_clear
    }

    /// Takes the next sample and returns the event it causes, if any. Samples must come in
    /// non-decreasing time order; an earlier one fails and changes nothing.
    pub fn observe(&mut self, sample: &QueueSample) -> Result<Option<CongestionEvent>, AnalyticsError> {
        if let Some(latest) = self.latest.filter(|latest| sample.at < *latest) {
            return Err(AnalyticsError::TimeWentBackwards { latest, now: sample.at });
        }
        self.latest = Some(sample.at);
        let lasted = |since: DateTime<Utc>, secs: u32| (sample.at - since).num_seconds() >= i64::from(secs);
        match self.state {
            AlertState::Calm { over_since } => {
                let reasons = self.over_reasons(sample);
                if reasons.is_empty() {
                    self.state = AlertState::Calm { over_since: None };
                    return Ok(None);
                }
                let over_since = over_since.unwrap_or(sample.at);
                if !lasted(over_since, self.rule.raise_after_secs) {
                    self.state = AlertState::Calm { over_since: Some(over_since) };
                    return Ok(None);
                }
                self.state = AlertState::Raised {
                    raised_at: sample.at,
                    clear_since: None,
                    peak_waiting: sample.calls_waiting,
                    peak_longest: sample.longest_wait_secs,
                };
                Ok(Some(CongestionEvent::Raised(CongestionRaised {
                    sample: *sample,
                    normal_calls_waiting: self.normal.mean_calls_waiting(sample.at),
                    reasons,
                    over_since,
                })))
            }
            AlertState::Raised { raised_at, clear_since, peak_waiting, peak_longest } => {
                let peak_waiting = peak_waiting.max(sample.calls_waiting);
                let peak_longest = peak_longest.max(sample.longest_wait_secs);
                let clear_since = self.is_clear(sample).then(|| clear_since.unwrap_or(sample.at));
                if clear_since.is_some_and(|since| lasted(since, self.rule.clear_after_secs)) {
                    self.state = AlertState::Calm { over_since: None };
                    return Ok(Some(CongestionEvent::Cleared(CongestionCleared {
                        at: sample.at,
                        raised_at,
                        peak_calls_waiting: peak_waiting,
                        peak_longest_wait_secs: peak_longest,
                    })));
                }
                self.state = AlertState::Raised { raised_at, clear_since, peak_waiting, peak_longest };
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests;
