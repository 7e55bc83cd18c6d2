//! Reports with one row per call, and the time-series charts (`Pbx.TimeReportData`).

use chrono::{DateTime, Datelike, FixedOffset, Months, NaiveDate, TimeDelta, TimeZone, Utc};
use lineup_xapi::generated::types;

use super::tables::sla_breaches_of;
use super::{average_ms, Bucket, ReportError, Selection};
use crate::model::{CallOutcome, CallTruth};
use crate::server::wire::iso_duration;

/// `Pbx.AbandonedQueueCalls`: calls whose caller hung up in the queue after waiting at least
/// the threshold; the extension is the last agent the call rang (`IsLoggedIn`: that agent now),
/// `PollingAttempts` the ring attempts.
pub(super) fn abandoned_calls(sel: &Selection<'_>) -> Vec<types::AbandonedQueueCalls> {
    let threshold = sel.list_threshold_ms();
    sel.queues
        .iter()
        .flat_map(|queue| {
            sel.calls_of(queue)
                .filter(move |c| c.outcome == CallOutcome::Abandoned && c.wait_ms >= threshold)
                .map(move |c| (queue, c))
        })
        .map(|(queue, call)| {
            let agent = sel.last_agent_rung(call.call_id);
            types::AbandonedQueueCalls {
                caller_id: Some(call.caller_number.clone()),
                call_history_id: Some(call.history_id.clone()),
                call_time: Some(call.arrived_at),
                call_time_for_csv: Some(call.arrived_at),
                queue_dn: Some(queue.dn.clone()),
                queue_display_name: Some(queue.name.clone()),
                wait_time: Some(iso_duration(call.wait_ms)),
                is_logged_in: agent.as_ref().map(|(dn, _)| sel.is_logged_in(dn)),
                extension_dn: agent.as_ref().map(|(dn, _)| dn.clone()),
                extension_display_name: agent.map(|(_, name)| name),
                polling_attempts: Some(i64::from(call.ring_attempts)),
            }
        })
        .collect()
}

/// `Pbx.QueueAnsweredCallsByWaitTime`: answered calls that waited at least the threshold
/// (`answerInterval`); `RingTime` is the wait, `Destination` the agent, `Dn` the queue's name.
pub(super) fn answered_by_wait_time(sel: &Selection<'_>) -> Vec<types::QueueAnsweredCallsByWaitTime> {
    let threshold = sel.list_threshold_ms();
    sel.queues
        .iter()
        .flat_map(|queue| {
            sel.calls_of(queue)
                .filter(move |c| c.outcome == CallOutcome::Answered && c.wait_ms >= threshold)
                .map(move |c| (queue, c))
        })
        .map(|(queue, call)| types::QueueAnsweredCallsByWaitTime {
            answered_time: call.answered_at,
            call_time: Some(call.arrived_at),
            destination: call.agent_dn.as_ref().map(|dn| format!("{dn} {}", sel.agent_name(dn))),
            dn: Some(queue.name.clone()),
            dn_number: Some(queue.dn.clone()),
            ring_time: Some(iso_duration(call.wait_ms)),
            sentiment_score: None,
            source: Some(call.caller_number.clone()),
        })
        .collect()
}

/// `Pbx.BreachesSla`: the calls counted as `BadSlaCallsCount` (waited longer than the
/// threshold, else the queue's SLA time).
pub(super) fn sla_breaches(sel: &Selection<'_>) -> Vec<types::BreachesSla> {
    sel.queues
        .iter()
        .flat_map(|queue| sla_breaches_of(sel, queue).map(move |c| (queue, c)))
        .map(|(queue, call)| types::BreachesSla {
            caller_id: Some(call.caller_number.clone()),
            call_time: Some(call.arrived_at),
            queue: Some(queue.name.clone()),
            queue_dn_number: Some(queue.dn.clone()),
            waiting_time: Some(iso_duration(call.wait_ms)),
        })
        .collect()
}

/// One point per bucket, from the calls of the selected queues that arrived in it.
fn chart(sel: &Selection<'_>, point: impl Fn(&[&CallTruth]) -> (i64, i64)) -> Vec<types::TimeReportData> {
    sel.buckets
        .iter()
        .map(|bucket| {
            let calls: Vec<&CallTruth> = sel
                .calls
                .iter()
                .copied()
                .filter(|c| c.arrived_at >= bucket.start && c.arrived_at < bucket.end)
                .collect();
            let (y1, y2) = point(&calls);
            let clamp = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
            types::TimeReportData { x_value: Some(bucket.start), y_value1: Some(clamp(y1)), y_value2: Some(clamp(y2)) }
        })
        .collect()
}

/// `Pbx.TimeReportData` of `GetAverageQueueWaitingTimeData`: per point, `YValue1` the average
/// wait of answered calls and `YValue2` that of unanswered calls, in whole seconds.
pub(super) fn average_waiting_time(sel: &Selection<'_>) -> Vec<types::TimeReportData> {
    chart(sel, |calls| {
        let avg_secs = |answered: bool| {
            let waits: Vec<i64> =
                calls.iter().filter(|c| (c.outcome == CallOutcome::Answered) == answered).map(|c| c.wait_ms).collect();
            let n = i64::try_from(waits.len()).unwrap_or(i64::MAX);
            (average_ms(waits.iter().sum(), n) as f64 / 1000.0).round() as i64
        };
        (avg_secs(true), avg_secs(false))
    })
}

/// `Pbx.TimeReportData` of `GetQueueAnUnCallsData`: per point, `YValue1` answered and `YValue2`
/// unanswered calls.
pub(super) fn answered_unanswered(sel: &Selection<'_>) -> Vec<types::TimeReportData> {
    chart(sel, |calls| {
        let answered = calls.iter().filter(|c| c.outcome == CallOutcome::Answered).count();
        let n = |k: usize| i64::try_from(k).unwrap_or(i64::MAX);
        (n(answered), n(calls.len() - answered))
    })
}

/// The points of a chart around `date` in the client's time zone: `by` = `hour` (or null): the
/// 24 hours of that day; `day`: the days of that month; `month`: the months of that year. The
/// zone is a UTC offset (`+01:00`, `-0530`, `UTC`, `Z`); other names are read as UTC.
pub(super) fn chart_buckets(
    date: DateTime<Utc>,
    by: Option<&str>,
    time_zone: Option<&str>,
) -> Result<Vec<Bucket>, ReportError> {
    let zone = time_zone.and_then(parse_offset).unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"));
    let local = date.with_timezone(&zone).date_naive();
    let at = |d: NaiveDate| -> Result<DateTime<Utc>, ReportError> {
        let midnight = d.and_hms_opt(0, 0, 0).ok_or_else(|| ReportError("bad chart date".into()))?;
        zone.from_local_datetime(&midnight)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| ReportError("bad chart date".into()))
    };
    let by = by.map(str::to_ascii_lowercase);
    let starts: Vec<DateTime<Utc>> = match by.as_deref().unwrap_or("hour") {
        "hour" | "" => {
            let day = at(local)?;
            (0..=24).map(|h| day + TimeDelta::hours(h)).collect()
        }
        "day" => {
            let first = local.with_day(1).ok_or_else(|| ReportError("bad chart date".into()))?;
            let next = first + Months::new(1);
            first.iter_days().take_while(|d| *d <= next).map(at).collect::<Result<_, _>>()?
        }
        "month" => {
            let first =
                NaiveDate::from_ymd_opt(local.year(), 1, 1).ok_or_else(|| ReportError("bad chart date".into()))?;
            (0..=12).map(|m| at(first + Months::new(m))).collect::<Result<_, _>>()?
        }
        other => return Err(ReportError(format!("chartBy must be 'hour', 'day' or 'month', not '{other}'"))),
    };
    Ok(starts.windows(2).map(|w| Bucket { start: w[0], end: w[1] }).collect())
}

/// `+01:00`, `-0530`, `+2`, `UTC`, `GMT`, `Z` as an offset.
fn parse_offset(text: &str) -> Option<FixedOffset> {
    let text = text.trim();
    if ["utc", "gmt", "z", ""].contains(&text.to_ascii_lowercase().as_str()) {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    let (hours, minutes) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        4 => (digits[..2].parse::<i32>().ok()?, digits[2..].parse::<i32>().ok()?),
        _ => return None,
    };
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn chart_points_follow_the_client_time_zone() {
        let date = at("2026-11-23T12:00:00Z");
        let hours = chart_buckets(date, None, Some("+01:00")).unwrap();
        assert_eq!(hours.len(), 24);
        assert_eq!((hours[0].start, hours[23].end), (at("2026-11-22T23:00:00Z"), at("2026-11-23T23:00:00Z")));
        let days = chart_buckets(date, Some("Day"), Some("Europe/Berlin")).unwrap();
        assert_eq!(
            (days.len(), days[0].start, days[29].end),
            (30, at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z"))
        );
        let months = chart_buckets(date, Some("month"), Some("-0530")).unwrap();
        assert_eq!((months.len(), months[0].start), (12, at("2026-01-01T05:30:00Z")));
        assert!(chart_buckets(date, Some("fortnight"), None).is_err());
    }
}
