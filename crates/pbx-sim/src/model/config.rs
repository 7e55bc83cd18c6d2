//! The simulated call centre's configuration: queues, agents, arrival profiles, caller
//! behaviour and the caller-number generator. Deserialised from JSON (camelCase, unknown
//! fields rejected) and checked by [`SimConfig::validate`] before a simulation starts; a
//! realistic default lives in `scenario.rs`.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::dist::DurationDist;

/// Milliseconds in a day: arrival profiles and shifts repeat with this period.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// Everything that shapes the traffic, except the seed and the start instant (both are
/// arguments of `Simulation::new`, so one configuration can be replayed under many seeds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SimConfig {
    /// Minutes east of UTC of the call centre's local time; arrival profiles and shifts are
    /// read in local time. Between -840 and 840.
    #[serde(default)]
    pub utc_offset_minutes: i32,
    /// The call queues, each with its own traffic. At least one.
    pub queues: Vec<QueueConfig>,
    /// The agents (extensions) answering the queues.
    #[serde(default)]
    pub agents: Vec<AgentConfig>,
    /// Where inbound calls come from: the trunk and the callers' numbers.
    #[serde(default)]
    pub callers: CallerConfig,
}

/// One call queue (a 3CX queue DN) and the traffic offered to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueConfig {
    /// The queue's DN, e.g. "800"; unique among queues, agents and the trunk.
    pub dn: String,
    /// Display name, e.g. "Sales".
    pub name: String,
    /// How waiting calls are offered to the queue's agents.
    #[serde(default)]
    pub strategy: RingStrategy,
    /// How long one agent (or, for ring-all, the group) rings before the call moves on.
    #[serde(default = "default_ring_timeout_secs")]
    pub ring_timeout_secs: u32,
    /// Service-level threshold: a call answered within this many seconds of arriving meets it.
    #[serde(default = "default_sla_secs")]
    pub sla_secs: u32,
    /// Optional maximum wait after which the call leaves the queue for a voicemail box.
    #[serde(default)]
    pub overflow: Option<OverflowConfig>,
    /// Expected arrivals per hour in each equal slot of the local day (24 values = hourly,
    /// 96 = quarter-hourly; the count must divide 86,400,000 ms evenly). Arrivals are a
    /// Poisson process whose rate is this step function.
    pub arrivals_per_hour: Vec<f64>,
    /// How long a caller is willing to wait before hanging up (sampled once per call).
    #[serde(default = "default_patience")]
    pub patience: DurationDist,
    /// Conversation length of an answered call.
    #[serde(default = "default_talk")]
    pub talk: DurationDist,
    /// After-call work of the agent before the next call can ring.
    #[serde(default = "default_wrap_up")]
    pub wrap_up: DurationDist,
}

/// The order in which a queue offers a call to its agents (3CX "polling strategy").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RingStrategy {
    /// Every available agent rings at once; the first to pick up takes the call.
    RingAll,
    /// Agents are tried one at a time, always in the queue's member order.
    Hunt,
    /// Agents are tried one at a time, starting after the agent rung last (3CX "NextAgent").
    #[default]
    RoundRobin,
    /// The available agent idle for longest rings first (3CX "LongestWaiting").
    LongestIdle,
    /// The available agent who answered fewest calls of this queue rings first.
    FewestAnswered,
}

impl RingStrategy {
    /// The matching value of 3CX's `Pbx.PollingStrategyType`.
    pub fn polling_strategy(self) -> &'static str {
        match self {
            RingStrategy::RingAll => "RingAll",
            RingStrategy::Hunt => "Hunt",
            RingStrategy::RoundRobin => "NextAgent",
            RingStrategy::LongestIdle => "LongestWaiting",
            RingStrategy::FewestAnswered => "FewestAnswered",
        }
    }
}

/// Where a call goes when it has waited `after_secs` in the queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OverflowConfig {
    /// Maximum wait in the queue (3CX "MasterTimeout"), more than zero.
    pub after_secs: u32,
    /// The voicemail DN that takes the call.
    pub destination_dn: String,
    /// The voicemail's display name.
    pub destination_name: String,
    /// How long the caller spends leaving a message.
    #[serde(default = "default_message")]
    pub message: DurationDist,
}

/// One agent: an extension that is a member of some queues and works shifts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentConfig {
    /// The extension's DN, e.g. "101"; unique.
    pub dn: String,
    /// Display name, e.g. "Alice Meyer".
    pub name: String,
    /// DNs of the queues the agent answers; each must name a configured queue, once.
    #[serde(default)]
    pub queues: Vec<String>,
    /// Daily login and logout; without one the agent is logged in all the time.
    #[serde(default)]
    pub shift: Option<ShiftConfig>,
    /// When and for how long the agent pauses.
    #[serde(default)]
    pub breaks: BreakConfig,
    /// How the agent reacts to a ringing phone.
    #[serde(default)]
    pub answer: AnswerConfig,
}

/// A daily shift in local time; logout before login means the shift spans midnight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ShiftConfig {
    /// Local time of the daily login, "HH:MM" or "HH:MM:SS".
    pub login: String,
    /// Local time of the daily logout, "HH:MM" or "HH:MM:SS", different from `login`.
    pub logout: String,
}

/// Pause behaviour: after finishing wrap-up an agent may take a break.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BreakConfig {
    /// Probability, in [0, 1], that the agent pauses after a call's wrap-up.
    pub probability_after_call: f64,
    /// Length of a break.
    pub duration: DurationDist,
}

impl Default for BreakConfig {
    fn default() -> Self {
        BreakConfig {
            probability_after_call: 0.03,
            duration: DurationDist::Uniform { min_secs: 180.0, max_secs: 600.0 },
        }
    }
}

/// How an agent answers: after a delay, or not at all.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnswerConfig {
    /// Time from the phone starting to ring to pick-up; a delay at or beyond the queue's
    /// ring timeout is a no-answer.
    pub delay: DurationDist,
    /// Probability, in [0, 1], that the agent lets a call ring out.
    pub miss_probability: f64,
}

impl Default for AnswerConfig {
    fn default() -> Self {
        AnswerConfig { delay: DurationDist::Uniform { min_secs: 2.0, max_secs: 7.0 }, miss_probability: 0.03 }
    }
}

/// The inbound trunk and the pool callers' numbers are drawn from (uniformly, so frequent
/// callers repeat).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallerConfig {
    /// DN of the trunk (external line) inbound calls arrive on.
    pub trunk_dn: String,
    /// Display name of the trunk.
    pub trunk_name: String,
    /// Leading part of every caller number, e.g. "+4930555".
    pub number_prefix: String,
    /// Digits appended to the prefix (zero-padded), 1 to 12.
    pub number_digits: u32,
    /// How many distinct numbers exist; at least 1 and at most 10^number_digits.
    pub pool_size: u64,
}

impl Default for CallerConfig {
    fn default() -> Self {
        CallerConfig {
            trunk_dn: "10000".into(),
            trunk_name: "SIP Trunk".into(),
            number_prefix: "+4930555".into(),
            number_digits: 5,
            pool_size: 20_000,
        }
    }
}

fn default_ring_timeout_secs() -> u32 {
    20
}
fn default_sla_secs() -> u32 {
    20
}
fn default_patience() -> DurationDist {
    DurationDist::Exponential { mean_secs: 120.0 }
}
fn default_talk() -> DurationDist {
    DurationDist::LogNormal { mean_secs: 150.0, sd_secs: 90.0 }
}
fn default_wrap_up() -> DurationDist {
    DurationDist::Fixed { secs: 10.0 }
}
fn default_message() -> DurationDist {
    DurationDist::Uniform { min_secs: 10.0, max_secs: 45.0 }
}

/// A configuration problem: where (a JSON-style path such as `agents[3].queues[1]`) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Path of the offending field; `$` for the document as a whole.
    pub path: String,
    /// What is wrong, in words.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError { path: path.into(), message: message.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// A validated agent shift as milliseconds since local midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ShiftTimes {
    pub login_ms: i64,
    pub logout_ms: i64,
}

/// Facts derived while validating, so the simulation never re-parses or re-checks.
pub(crate) struct Compiled {
    /// Per agent: indices of its queues, in the agent's listed order.
    pub agent_queues: Vec<Vec<usize>>,
    /// Per agent: its shift, if any.
    pub agent_shifts: Vec<Option<ShiftTimes>>,
}

impl SimConfig {
    /// Parses a JSON document and validates it; parse errors carry the path `$`.
    pub fn from_json(text: &str) -> Result<SimConfig, ConfigError> {
        let config: SimConfig = serde_json::from_str(text).map_err(|e| ConfigError::new("$", e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every rule a simulation relies on; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.compile().map(|_| ())
    }

    pub(crate) fn compile(&self) -> Result<Compiled, ConfigError> {
        if !(-840..=840).contains(&self.utc_offset_minutes) {
            return Err(ConfigError::new("utcOffsetMinutes", "must be between -840 and 840"));
        }
        if self.queues.is_empty() {
            return Err(ConfigError::new("queues", "at least one queue is required"));
        }
        let mut dns: HashSet<&str> = HashSet::new();
        check_dn("callers.trunkDn", &self.callers.trunk_dn, &mut dns)?;
        self.validate_callers()?;
        for (i, queue) in self.queues.iter().enumerate() {
            validate_queue(&format!("queues[{i}]"), queue, &mut dns)?;
        }
        let mut agent_queues = Vec::with_capacity(self.agents.len());
        let mut agent_shifts = Vec::with_capacity(self.agents.len());
        for (i, agent) in self.agents.iter().enumerate() {
            let path = format!("agents[{i}]");
            check_dn(&format!("{path}.dn"), &agent.dn, &mut dns)?;
            check_name(&format!("{path}.name"), &agent.name)?;
            let mut members = Vec::with_capacity(agent.queues.len());
            for (k, dn) in agent.queues.iter().enumerate() {
                let at = format!("{path}.queues[{k}]");
                let q = self
                    .queues
                    .iter()
                    .position(|q| &q.dn == dn)
                    .ok_or_else(|| ConfigError::new(&at, format!("unknown queue \"{dn}\"")))?;
                if members.contains(&q) {
                    return Err(ConfigError::new(at, format!("queue \"{dn}\" is listed twice")));
                }
                members.push(q);
            }
            agent_queues.push(members);
            agent_shifts.push(match &agent.shift {
                None => None,
                Some(shift) => Some(compile_shift(&format!("{path}.shift"), shift)?),
            });
            check_probability(&format!("{path}.breaks.probabilityAfterCall"), agent.breaks.probability_after_call)?;
            agent.breaks.duration.check(&format!("{path}.breaks.duration"))?;
            check_probability(&format!("{path}.answer.missProbability"), agent.answer.miss_probability)?;
            agent.answer.delay.check(&format!("{path}.answer.delay"))?;
        }
        Ok(Compiled { agent_queues, agent_shifts })
    }

    fn validate_callers(&self) -> Result<(), ConfigError> {
        let c = &self.callers;
        check_name("callers.trunkName", &c.trunk_name)?;
        if !(1..=12).contains(&c.number_digits) {
            return Err(ConfigError::new("callers.numberDigits", "must be between 1 and 12"));
        }
        if c.pool_size == 0 || c.pool_size > 10u64.pow(c.number_digits) {
            return Err(ConfigError::new("callers.poolSize", "must be at least 1 and at most 10^numberDigits"));
        }
        Ok(())
    }
}

fn validate_queue<'a>(path: &str, queue: &'a QueueConfig, dns: &mut HashSet<&'a str>) -> Result<(), ConfigError> {
    check_dn(&format!("{path}.dn"), &queue.dn, dns)?;
    check_name(&format!("{path}.name"), &queue.name)?;
    if queue.ring_timeout_secs == 0 {
        return Err(ConfigError::new(format!("{path}.ringTimeoutSecs"), "must be more than zero"));
    }
    let rates = &queue.arrivals_per_hour;
    if rates.is_empty() || DAY_MS % rates.len() as i64 != 0 {
        return Err(ConfigError::new(
            format!("{path}.arrivalsPerHour"),
            format!("needs a number of slots that divides the day evenly (e.g. 24 or 96), got {}", rates.len()),
        ));
    }
    if let Some(k) = rates.iter().position(|r| !r.is_finite() || *r < 0.0) {
        return Err(ConfigError::new(format!("{path}.arrivalsPerHour[{k}]"), "must be a finite number, zero or more"));
    }
    queue.patience.check(&format!("{path}.patience"))?;
    queue.talk.check(&format!("{path}.talk"))?;
    queue.wrap_up.check(&format!("{path}.wrapUp"))?;
    if let Some(overflow) = &queue.overflow {
        if overflow.after_secs == 0 {
            return Err(ConfigError::new(format!("{path}.overflow.afterSecs"), "must be more than zero"));
        }
        if overflow.destination_dn.is_empty() || !overflow.destination_dn.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ConfigError::new(format!("{path}.overflow.destinationDn"), "must be letters and digits"));
        }
        check_name(&format!("{path}.overflow.destinationName"), &overflow.destination_name)?;
        overflow.message.check(&format!("{path}.overflow.message"))?;
    }
    Ok(())
}

fn check_dn<'a>(path: &str, dn: &'a str, seen: &mut HashSet<&'a str>) -> Result<(), ConfigError> {
    if dn.is_empty() || !dn.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ConfigError::new(path, format!("DN \"{dn}\" must be letters and digits")));
    }
    if !seen.insert(dn) {
        return Err(ConfigError::new(path, format!("DN \"{dn}\" is used twice")));
    }
    Ok(())
}

fn check_name(path: &str, name: &str) -> Result<(), ConfigError> {
    if name.trim().is_empty() {
        return Err(ConfigError::new(path, "must not be empty"));
    }
    Ok(())
}

fn check_probability(path: &str, p: f64) -> Result<(), ConfigError> {
    if !(0.0..=1.0).contains(&p) {
        return Err(ConfigError::new(path, format!("probability must be between 0 and 1, got {p}")));
    }
    Ok(())
}

fn compile_shift(path: &str, shift: &ShiftConfig) -> Result<ShiftTimes, ConfigError> {
    let login_ms = parse_time_of_day(&shift.login).ok_or_else(|| {
        ConfigError::new(format!("{path}.login"), format!("\"{}\" is not HH:MM or HH:MM:SS", shift.login))
    })?;
    let logout_ms = parse_time_of_day(&shift.logout).ok_or_else(|| {
        ConfigError::new(format!("{path}.logout"), format!("\"{}\" is not HH:MM or HH:MM:SS", shift.logout))
    })?;
    if login_ms == logout_ms {
        return Err(ConfigError::new(
            format!("{path}.logout"),
            "must differ from login (omit the shift to stay logged in)",
        ));
    }
    Ok(ShiftTimes { login_ms, logout_ms })
}

/// Milliseconds since midnight of "HH:MM" or "HH:MM:SS" (00:00 to 23:59:59).
pub(crate) fn parse_time_of_day(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let field = |k: usize| parts.get(k).map_or(Some(0), |p| p.parse::<i64>().ok());
    let (h, m, s) = (field(0)?, field(1)?, field(2)?);
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    Some(((h * 60 + m) * 60 + s) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_of_day_parses_only_clock_times() {
        let cases: &[(&str, Option<i64>)] = &[
            ("00:00", Some(0)),
            ("08:30", Some(30_600_000)),
            ("23:59:59", Some(86_399_000)),
            ("24:00", None),
            ("8:30", None),
            ("08:60", None),
            ("08", None),
            ("08:30:00:00", None),
            ("ab:cd", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_time_of_day(text), *expected, "{text}");
        }
    }
}
