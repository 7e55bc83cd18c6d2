//! Session schedules: a queue's shifts opened and closed on a cron (6 fields with seconds, UTC).
//!
//! Pure: the caller passes every instant. [`due`] says which scheduled instant a scheduler
//! should act on now; [`session_name_for`] names the session it opens.

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Longest session name template, in characters.
pub const MAX_SESSION_NAME_CHARS: usize = 100;

/// The placeholder a session name template may contain; replaced by the due instant's UTC date.
pub const DATE_PLACEHOLDER: &str = "{date}";

/// A queue's session schedule as the API shows it. `nextRunAt` is the first scheduled instant
/// after the last run (or after creation when it never ran); an instant in the past means the
/// rotation is overdue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionSchedule {
    pub queue_id: uuid::Uuid,
    /// Six fields (second minute hour day-of-month month day-of-week), evaluated in UTC.
    pub cron: String,
    /// Name template of the sessions it opens; `{date}` becomes the due date (`YYYY-MM-DD`).
    pub session_name: String,
    pub last_run_at: Option<DateTime<Utc>>,
    pub next_run_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SessionSchedule {
    /// The view of a stored schedule; `next_run_at` is computed from the other fields.
    pub fn new(
        queue_id: uuid::Uuid,
        cron: String,
        session_name: String,
        last_run_at: Option<DateTime<Utc>>,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> SessionSchedule {
        let next_run_at = next_run_after(&cron, last_run_at.unwrap_or(created_at));
        SessionSchedule { queue_id, cron, session_name, last_run_at, next_run_at, created_at, updated_at }
    }

    /// The latest scheduled instant due at `now` and not yet run, if any (see [`due`]).
    pub fn due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        due(&self.cron, self.last_run_at, self.created_at, now)
    }
}

/// The request body that sets a queue's schedule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSessionSchedule {
    /// Six fields with seconds, UTC, e.g. `0 0 6 * * *` (daily at 06:00).
    pub cron: String,
    /// 1–100 characters; may contain `{date}`.
    pub session_name: String,
}

/// A validated schedule ready to store: the cron parses with seconds and the name template is
/// 1–100 characters once trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionScheduleSpec {
    pub cron: String,
    pub session_name: String,
}

impl SessionScheduleSpec {
    /// Checks the cron (six fields, seconds required) and the name template.
    pub fn new(cron: &str, session_name: &str) -> Result<SessionScheduleSpec, DomainError> {
        let cron = cron.trim();
        parse_cron(cron)?;
        let name = session_name.trim();
        if name.is_empty() {
            return Err(invalid("sessionName", "must not be empty".into()));
        }
        if name.chars().count() > MAX_SESSION_NAME_CHARS {
            return Err(invalid("sessionName", format!("must be at most {MAX_SESSION_NAME_CHARS} characters")));
        }
        Ok(SessionScheduleSpec { cron: cron.to_string(), session_name: name.to_string() })
    }
}

impl TryFrom<NewSessionSchedule> for SessionScheduleSpec {
    type Error = DomainError;

    fn try_from(new: NewSessionSchedule) -> Result<Self, DomainError> {
        SessionScheduleSpec::new(&new.cron, &new.session_name)
    }
}

/// Parses a six-field cron (second minute hour day-of-month month day-of-week).
pub fn parse_cron(cron: &str) -> Result<Cron, DomainError> {
    let fields = cron.split_whitespace().count();
    if fields != 6 {
        return Err(invalid("cron", format!("needs 6 fields (seconds first), got {fields}")));
    }
    CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Disallowed)
        .build()
        .parse(cron)
        .map_err(|e| invalid("cron", e.to_string()))
}

/// The first instant of `cron` strictly after `after`; `None` when the cron is invalid or never
/// fires again.
pub fn next_run_after(cron: &str, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    parse_cron(cron).ok()?.find_next_occurrence(&after, false).ok()
}

/// The latest instant of `cron` in `(last_run_at or created_at, now]`, if any: the one rotation
/// a scheduler owes now (instants missed while it was down collapse into the latest one).
pub fn due(
    cron: &str,
    last_run_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let since = last_run_at.unwrap_or(created_at);
    let latest = parse_cron(cron).ok()?.find_previous_occurrence(&now, true).ok()?;
    (latest > since && latest <= now).then_some(latest)
}

/// The name of the session a rotation due at `due_at` opens: `{date}` replaced by its UTC date.
pub fn session_name_for(template: &str, due_at: DateTime<Utc>) -> String {
    template.replace(DATE_PLACEHOLDER, &due_at.format("%Y-%m-%d").to_string())
}

fn invalid(field: &'static str, reason: String) -> DomainError {
    DomainError::Invalid { field, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn specs_need_a_six_field_cron_and_a_short_name() {
        let long = "x".repeat(101);
        let cases: [(&str, &str, Option<&str>); 7] = [
            ("0 0 6 * * *", "Day {date}", None),
            ("  0 */15 * * * *  ", " Shift ", None),
            ("0 6 * * *", "Day", Some("cron")),
            ("0 0 6 * * * 2030", "Day", Some("cron")),
            ("0 0 25 * * *", "Day", Some("cron")),
            ("0 0 6 * * *", "   ", Some("sessionName")),
            ("0 0 6 * * *", &long, Some("sessionName")),
        ];
        for (cron, name, refused) in cases {
            match (SessionScheduleSpec::new(cron, name), refused) {
                (Ok(spec), None) => assert_eq!(spec.cron, cron.trim()),
                (Err(DomainError::Invalid { field, .. }), Some(f)) => assert_eq!(field, f, "{cron} / {name}"),
                (other, _) => panic!("{cron} / {name}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_next_run_is_strictly_after_the_given_instant() {
        let cases = [
            ("0 0 6 * * *", "2025-03-01T05:00:00Z", "2025-03-01T06:00:00Z"),
            ("0 0 6 * * *", "2025-03-01T06:00:00Z", "2025-03-02T06:00:00Z"),
            ("30 * * * * *", "2025-03-01T06:00:30Z", "2025-03-01T06:01:30Z"),
        ];
        for (cron, after, next) in cases {
            assert_eq!(next_run_after(cron, at(after)), Some(at(next)), "{cron} after {after}");
        }
        assert_eq!(next_run_after("not a cron", at("2025-03-01T00:00:00Z")), None);
    }

    #[test]
    fn due_is_the_latest_instant_since_the_last_run_up_to_now() {
        let created = at("2025-03-01T00:00:00Z");
        let cases = [
            // (last run, now, due)
            (None, "2025-03-01T05:59:59Z", None),
            (None, "2025-03-01T06:00:00Z", Some("2025-03-01T06:00:00Z")),
            (None, "2025-03-03T07:00:00Z", Some("2025-03-03T06:00:00Z")),
            (Some("2025-03-01T06:00:00Z"), "2025-03-01T23:00:00Z", None),
            (Some("2025-03-01T06:00:00Z"), "2025-03-02T06:00:01Z", Some("2025-03-02T06:00:00Z")),
        ];
        for (last, now, expected) in cases {
            assert_eq!(
                due("0 0 6 * * *", last.map(at), created, at(now)),
                expected.map(at),
                "last {last:?}, now {now}"
            );
        }
    }

    #[test]
    fn a_schedule_created_after_todays_instant_waits_for_tomorrow() {
        let schedule = SessionSchedule::new(
            uuid::Uuid::nil(),
            "0 0 6 * * *".into(),
            "Day".into(),
            None,
            at("2025-03-01T09:00:00Z"),
            at("2025-03-01T09:00:00Z"),
        );
        assert_eq!(schedule.next_run_at, Some(at("2025-03-02T06:00:00Z")));
        assert_eq!(schedule.due(at("2025-03-01T10:00:00Z")), None);
        assert_eq!(schedule.due(at("2025-03-02T06:00:00Z")), Some(at("2025-03-02T06:00:00Z")));
    }

    #[test]
    fn the_date_placeholder_becomes_the_due_date() {
        let due_at = at("2025-03-01T06:00:00Z");
        assert_eq!(session_name_for("Day {date}", due_at), "Day 2025-03-01");
        assert_eq!(session_name_for("Morning", due_at), "Morning");
    }
}
