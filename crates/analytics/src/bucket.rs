//! Time buckets and periods: where a call is counted in time, and dense series of tallies.
//!
//! Buckets are **UTC only**: a quarter hour starts at :00, :15, :30 or :45 UTC, an hour on the UTC
//! hour and a day at 00:00 UTC. Every bucket of a granularity has the same length (UTC has no
//! daylight saving). A call is counted in the bucket containing its `entered_at`.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::accumulate::{Tally, TallyRules};
use crate::error::AnalyticsError;

/// The length of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum Granularity {
    /// 15 minutes, starting at :00, :15, :30 and :45 UTC.
    FifteenMinutes,
    /// One UTC hour.
    Hour,
    /// One UTC day, starting at 00:00 UTC.
    Day,
}

impl Granularity {
    /// The length of one bucket in seconds.
    pub fn secs(self) -> i64 {
        match self {
            Granularity::FifteenMinutes => 15 * 60,
            Granularity::Hour => 3600,
            Granularity::Day => 86_400,
        }
    }

    /// The length of one bucket.
    pub fn length(self) -> TimeDelta {
        TimeDelta::seconds(self.secs())
    }
}

/// The start of the UTC bucket containing `instant`: the latest bucket boundary at or before it.
pub fn bucket_start(granularity: Granularity, instant: DateTime<Utc>) -> DateTime<Utc> {
    let secs = instant.timestamp(); // whole seconds, rounded down
    let start = secs - secs.rem_euclid(granularity.secs());
    DateTime::from_timestamp(start, 0).expect("a bucket start is no earlier than the instant's own range")
}

/// A half-open time range `[from, to)`; empty when `from >= to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Period {
    /// The first instant in the period.
    pub from: DateTime<Utc>,
    /// The first instant after the period.
    pub to: DateTime<Utc>,
}

impl Period {
    /// Whether `instant` is in `[from, to)`.
    pub fn contains(&self, instant: DateTime<Utc>) -> bool {
        self.from <= instant && instant < self.to
    }

    /// The period's length (zero when empty).
    pub fn length(&self) -> TimeDelta {
        (self.to - self.from).max(TimeDelta::zero())
    }

    /// The period of equal length ending where this one starts: `[from − length, from)`.
    pub fn previous(&self) -> Period {
        Period { from: self.from - self.length(), to: self.from }
    }

    /// The starts of the buckets overlapping the period, ascending: from the bucket containing
    /// `from` up to the last one starting before `to`. An unaligned `from` makes the first bucket
    /// begin before the period; nothing for an empty period.
    pub fn bucket_starts(&self, granularity: Granularity) -> impl Iterator<Item = DateTime<Utc>> {
        let to = self.to;
        let first = (self.from < self.to).then(|| bucket_start(granularity, self.from));
        std::iter::successors(first, move |start| Some(*start + granularity.length())).take_while(move |s| *s < to)
    }
}

/// The period of equal length just before `[from, to)`; see [`Period::previous`].
pub fn previous_period(from: DateTime<Utc>, to: DateTime<Utc>) -> Period {
    Period { from, to }.previous()
}

/// The tally of one bucket, identified by its start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BucketTally {
    /// The bucket's start (or, as input to [`series`], any instant inside it).
    pub start: DateTime<Utc>,
    /// The calls that entered the queue during the bucket.
    pub tally: Tally,
}

/// A dense series over `period`: one entry per bucket of [`Period::bucket_starts`], ascending,
/// each the merge of the input tallies whose `start` falls in it, or an empty tally of `rules`
/// when none does.
///
/// Inputs outside the series' buckets are ignored. Inputs may be of a finer granularity than the
/// series (hourly rows roll up into days), never coarser: a daily row given to an hourly series
/// would land whole in its first hour. Fails when an input was built with other rules.
pub fn series(
    period: &Period,
    granularity: Granularity,
    rules: TallyRules,
    tallies: impl IntoIterator<Item = BucketTally>,
) -> Result<Vec<BucketTally>, AnalyticsError> {
    let mut by_start: BTreeMap<DateTime<Utc>, Tally> =
        period.bucket_starts(granularity).map(|start| (start, Tally::empty(rules))).collect();
    for input in tallies {
        if input.tally.rules != rules {
            return Err(AnalyticsError::RulesDiffer { left: rules, right: input.tally.rules });
        }
        if let Some(bucket) = by_start.get_mut(&bucket_start(granularity, input.start)) {
            bucket.merge(&input.tally)?;
        }
    }
    Ok(by_start.into_iter().map(|(start, tally)| BucketTally { start, tally }).collect())
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use uuid::Uuid;

    use super::*;
    use crate::fact::{CallFact, Outcome};

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
    }

    const RULES: TallyRules = TallyRules { service_level_secs: 20, short_abandon_secs: 5 };

    fn tally_of_calls(calls: u64) -> Tally {
        let fact = CallFact {
            queue: Uuid::nil(),
            agent: None,
            team: None,
            entered_at: DateTime::UNIX_EPOCH,
            answered_at: None,
            left_queue_at: None,
            ended_at: None,
            wait_ms: 1000,
            talk_ms: 0,
            hold_ms: 0,
            wrap_ms: 0,
            outcome: Outcome::Answered,
            transferred: false,
            callback: false,
        };
        Tally::from_facts(RULES, std::iter::repeat_n(&fact, calls as usize))
    }

    #[test]
    fn bucket_starts_truncate_to_utc_boundaries() {
        use Granularity::*;
        let cases = [
            (FifteenMinutes, "2025-03-30T01:59:59.999+00:00", "2025-03-30T01:45:00Z"),
            (FifteenMinutes, "2025-03-30T02:00:00+00:00", "2025-03-30T02:00:00Z"),
            (Hour, "2025-03-30T02:30:00+02:00", "2025-03-30T00:00:00Z"),
            (Day, "2025-03-30T23:59:59+00:00", "2025-03-30T00:00:00Z"),
            (Day, "2025-03-31T01:00:00+02:00", "2025-03-30T00:00:00Z"),
            (Hour, "1969-12-31T23:30:00+00:00", "1969-12-31T23:00:00Z"),
        ];
        for (granularity, instant, expected) in cases {
            assert_eq!(bucket_start(granularity, at(instant)), at(expected), "{granularity:?} {instant}");
        }
    }

    #[test]
    fn a_period_lists_the_buckets_it_overlaps() {
        // (from, to, granularity, expected starts)
        let cases: [(&str, &str, Granularity, &[&str]); 4] = [
            (
                "2025-01-01T10:00:00Z",
                "2025-01-01T11:00:00Z",
                Granularity::FifteenMinutes,
                &["2025-01-01T10:00:00Z", "2025-01-01T10:15:00Z", "2025-01-01T10:30:00Z", "2025-01-01T10:45:00Z"],
            ),
            (
                "2025-01-01T10:10:00Z",
                "2025-01-01T10:31:00Z",
                Granularity::FifteenMinutes,
                &["2025-01-01T10:00:00Z", "2025-01-01T10:15:00Z", "2025-01-01T10:30:00Z"],
            ),
            (
                "2025-01-01T10:00:00Z",
                "2025-01-03T00:00:00Z",
                Granularity::Day,
                &["2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"],
            ),
            ("2025-01-01T10:00:00Z", "2025-01-01T10:00:00Z", Granularity::Hour, &[]),
        ];
        for (from, to, granularity, expected) in cases {
            let period = Period { from: at(from), to: at(to) };
            let starts: Vec<_> = period.bucket_starts(granularity).collect();
            let expected: Vec<_> = expected.iter().map(|s| at(s)).collect();
            assert_eq!(starts, expected, "{from}..{to} by {granularity:?}");
        }
    }

    #[test]
    fn the_previous_period_has_equal_length_and_ends_at_from() {
        let cases = [
            ("2025-01-08T00:00:00Z", "2025-01-15T00:00:00Z", "2025-01-01T00:00:00Z"),
            ("2025-01-01T10:00:00Z", "2025-01-01T10:15:00Z", "2025-01-01T09:45:00Z"),
        ];
        for (from, to, previous_from) in cases {
            assert_eq!(previous_period(at(from), at(to)), Period { from: at(previous_from), to: at(from) });
        }
    }

    #[test]
    fn series_fill_gaps_roll_up_finer_rows_and_ignore_outsiders() {
        let period = Period { from: at("2025-01-01T00:00:00Z"), to: at("2025-01-01T03:00:00Z") };
        let rows = [
            ("2025-01-01T00:00:00Z", 2),
            ("2025-01-01T00:45:00Z", 3), // a quarter hour rolls into the first hour
            ("2025-01-01T02:15:00Z", 1),
            ("2025-01-01T03:00:00Z", 7), // after the period
        ];
        let inputs = rows.map(|(start, calls)| BucketTally { start: at(start), tally: tally_of_calls(calls) });
        let dense = series(&period, Granularity::Hour, RULES, inputs).unwrap();
        let offered: Vec<_> = dense.iter().map(|b| (b.start, b.tally.offered)).collect();
        let expected = [("2025-01-01T00:00:00Z", 5), ("2025-01-01T01:00:00Z", 0), ("2025-01-01T02:00:00Z", 1)];
        assert_eq!(offered, expected.map(|(start, calls)| (at(start), calls)));
    }

    #[test]
    fn series_refuse_rows_with_other_rules() {
        let period = Period { from: at("2025-01-01T00:00:00Z"), to: at("2025-01-02T00:00:00Z") };
        let other = Tally::empty(TallyRules { service_level_secs: 30, short_abandon_secs: 5 });
        let inputs = [BucketTally { start: period.from, tally: other }];
        assert!(matches!(series(&period, Granularity::Day, RULES, inputs), Err(AnalyticsError::RulesDiffer { .. })));
    }
}
