//! The default scenario: a realistic mid-sized call centre. Five queues (800-804) offered about
//! 5,000 calls a day with morning and afternoon peaks, forty agents (101-140) in five shifts
//! that cover the whole day, one queue per ring strategy, and overflow to voicemail on two.

use super::config::{
    AgentConfig, AnswerConfig, BreakConfig, CallerConfig, OverflowConfig, QueueConfig, RingStrategy, ShiftConfig,
    SimConfig,
};
use super::dist::DurationDist;

/// Relative call volume per local hour: quiet nights, a peak at 10:00, a lunch dip, a second
/// peak at 15:00.
const DAY_SHAPE: [f64; 24] = [
    0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 0.8, 2.5, 6.0, 9.0, 10.0, 9.0, 6.5, 7.0, 9.0, 9.5, 8.0, 5.0, 3.0, 2.0, 1.2, 0.8, 0.5,
    0.3,
];

/// (dn, name, strategy, calls per day, SLA secs, overflow after secs, patience, talk)
type QueueRow = (&'static str, &'static str, RingStrategy, f64, u32, Option<u32>, DurationDist, DurationDist);

fn queue_rows() -> Vec<QueueRow> {
    use DurationDist::{Exponential, LogNormal};
    vec![
        (
            "800",
            "Sales",
            RingStrategy::RoundRobin,
            1300.0,
            20,
            Some(120),
            Exponential { mean_secs: 120.0 },
            LogNormal { mean_secs: 130.0, sd_secs: 80.0 },
        ),
        (
            "801",
            "Support",
            RingStrategy::LongestIdle,
            1700.0,
            20,
            None,
            LogNormal { mean_secs: 180.0, sd_secs: 120.0 },
            LogNormal { mean_secs: 120.0, sd_secs: 80.0 },
        ),
        (
            "802",
            "Billing",
            RingStrategy::Hunt,
            800.0,
            30,
            Some(90),
            Exponential { mean_secs: 150.0 },
            LogNormal { mean_secs: 110.0, sd_secs: 60.0 },
        ),
        (
            "803",
            "Technical",
            RingStrategy::FewestAnswered,
            800.0,
            30,
            None,
            LogNormal { mean_secs: 200.0, sd_secs: 150.0 },
            LogNormal { mean_secs: 140.0, sd_secs: 100.0 },
        ),
        (
            "804",
            "VIP",
            RingStrategy::RingAll,
            400.0,
            10,
            None,
            Exponential { mean_secs: 90.0 },
            LogNormal { mean_secs: 100.0, sd_secs: 60.0 },
        ),
    ]
}

/// (login, logout, agents): five shifts covering the whole day.
const SHIFTS: [(&str, &str, usize); 5] = [
    ("07:00", "15:30", 9),
    ("08:00", "16:30", 13),
    ("10:00", "18:30", 10),
    ("13:00", "21:30", 5),
    ("21:00", "07:30", 3),
];

/// Queue memberships of day agents, cycled; evening and night agents serve every queue.
const MEMBERSHIPS: [&[&str]; 8] = [
    &["801", "803"],
    &["800", "804"],
    &["801", "802"],
    &["803", "801"],
    &["800", "801"],
    &["802", "800"],
    &["804", "800", "801"],
    &["801", "803", "802"],
];

const FIRST_NAMES: [&str; 20] = [
    "Anna", "Ben", "Clara", "David", "Elif", "Finn", "Greta", "Hugo", "Ines", "Jonas", "Katja", "Luca", "Mia", "Noah",
    "Olga", "Paul", "Rosa", "Samir", "Tara", "Viktor",
];

const LAST_NAMES: [&str; 8] = ["Meyer", "Schmidt", "Kowalski", "Rossi", "Novak", "Jansen", "Dubois", "Weber"];

impl Default for SimConfig {
    /// The default scenario described in this module's documentation.
    fn default() -> Self {
        let total: f64 = DAY_SHAPE.iter().sum();
        let queues = queue_rows()
            .into_iter()
            .map(|(dn, name, strategy, per_day, sla_secs, overflow_after, patience, talk)| QueueConfig {
                dn: dn.into(),
                name: name.into(),
                strategy,
                ring_timeout_secs: 20,
                sla_secs,
                overflow: overflow_after.map(|after_secs| OverflowConfig {
                    after_secs,
                    destination_dn: "899".into(),
                    destination_name: format!("{name} voicemail"),
                    message: DurationDist::Uniform { min_secs: 10.0, max_secs: 45.0 },
                }),
                // Rounded so the scenario prints as a readable JSON document.
                arrivals_per_hour: DAY_SHAPE.iter().map(|w| (per_day * w / total * 1000.0).round() / 1000.0).collect(),
                patience,
                talk,
                wrap_up: DurationDist::Uniform { min_secs: 5.0, max_secs: 20.0 },
            })
            .collect();
        let all_queues: Vec<String> = queue_rows().iter().map(|row| row.0.to_string()).collect();
        let mut agents = Vec::new();
        for (login, logout, count) in SHIFTS {
            let evening = login >= "13:00" || logout < login;
            for _ in 0..count {
                let n = agents.len();
                let queues = if evening {
                    all_queues.clone()
                } else {
                    MEMBERSHIPS[n % MEMBERSHIPS.len()].iter().map(|q| q.to_string()).collect()
                };
                agents.push(AgentConfig {
                    dn: format!("{}", 101 + n),
                    name: format!(
                        "{} {}",
                        FIRST_NAMES[n % FIRST_NAMES.len()],
                        LAST_NAMES[(n * 3 + n / 8) % LAST_NAMES.len()]
                    ),
                    queues,
                    shift: Some(ShiftConfig { login: login.into(), logout: logout.into() }),
                    breaks: BreakConfig::default(),
                    answer: AnswerConfig::default(),
                });
            }
        }
        SimConfig { utc_offset_minutes: 60, queues, agents, callers: CallerConfig::default() }
    }
}
