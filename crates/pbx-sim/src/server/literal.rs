//! OData literals as they appear in request paths: entity keys (`Queues(12)`,
//! `Users(Number='101')`) and function parameters (`Pbx.GetCallLogData(periodFrom=..,..)`).
//! Strings are quoted with `'` doubled inside; date-times, numbers, booleans and `null` are bare.
//! Also the durations report parameters carry (`waitInterval='0:00:20'`).

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// One literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number with a fraction or an exponent.
    Number(f64),
    /// A quoted string, unescaped.
    String(String),
    /// A bare ISO 8601 date-time (or a date, taken as midnight UTC).
    DateTime(DateTime<Utc>),
}

impl Literal {
    /// Parses one literal; `None` when `text` is none of the forms above.
    pub fn parse(text: &str) -> Option<Literal> {
        let text = text.trim();
        if let Some(inner) = text.strip_prefix('\'') {
            let inner = inner.strip_suffix('\'')?;
            // Every quote inside must be doubled.
            let unescaped = inner.replace("''", "'");
            if unescaped.matches('\'').count() * 2 != inner.matches('\'').count() {
                return None;
            }
            return Some(Literal::String(unescaped));
        }
        match text {
            "null" => return Some(Literal::Null),
            "true" => return Some(Literal::Bool(true)),
            "false" => return Some(Literal::Bool(false)),
            _ => {}
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Some(Literal::DateTime(t.with_timezone(&Utc)));
        }
        if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Some(Literal::DateTime(d.and_hms_opt(0, 0, 0)?.and_utc()));
        }
        if let Ok(n) = text.parse::<i64>() {
            return Some(Literal::Int(n));
        }
        text.parse::<f64>().ok().filter(|n| n.is_finite()).map(Literal::Number)
    }

    /// What kind of literal this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Literal::Null => "null",
            Literal::Bool(_) => "a boolean",
            Literal::Int(_) => "an integer",
            Literal::Number(_) => "a number",
            Literal::String(_) => "a string",
            Literal::DateTime(_) => "a date-time",
        }
    }
}

/// Splits `text` at every `separator` outside single-quoted strings (a doubled quote stays
/// inside its string). Parentheses nest: a separator inside `(...)` does not split either.
pub fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut in_quotes = false;
    let mut depth = 0usize;
    let mut start = 0;
    for (at, c) in text.char_indices() {
        match c {
            '\'' => in_quotes = !in_quotes,
            '(' if !in_quotes => depth += 1,
            ')' if !in_quotes => depth = depth.saturating_sub(1),
            c if c == separator && !in_quotes && depth == 0 => {
                parts.push(&text[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A duration as report parameters write it: a .NET TimeSpan (`0:00:20`, `00:01:30.5`,
/// `1.02:00:00`), ISO 8601 (`PT20S`), or plain seconds (`20`). `None` when unreadable or negative.
pub fn parse_duration(text: &str) -> Option<TimeDelta> {
    let text = text.trim();
    let ms = if let Some(iso) = text.strip_prefix("PT").or_else(|| text.strip_prefix("pt")) {
        iso_time_ms(iso)?
    } else if text.contains(':') {
        timespan_ms(text)?
    } else {
        seconds_ms(text)?
    };
    (ms >= 0).then(|| TimeDelta::milliseconds(ms))
}

fn seconds_ms(text: &str) -> Option<i64> {
    let secs: f64 = text.parse().ok().filter(|s: &f64| s.is_finite())?;
    Some((secs * 1000.0).round() as i64)
}

/// `[d.]h:mm[:ss[.fff]]`.
fn timespan_ms(text: &str) -> Option<i64> {
    let (days, clock) = match text.split_once('.') {
        Some((d, rest)) if rest.contains(':') && !d.contains(':') => (d.parse::<i64>().ok()?, rest),
        _ => (0, text),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let (h, m, s) = match parts.as_slice() {
        [h, m] => (*h, *m, "0"),
        [h, m, s] => (*h, *m, *s),
        _ => return None,
    };
    let h: i64 = h.parse().ok()?;
    let m: i64 = m.parse().ok()?;
    Some(((days * 24 + h) * 60 + m) * 60_000 + seconds_ms(s)?)
}

/// The part of an ISO 8601 duration after `PT`: `1H2M3.5S`.
fn iso_time_ms(text: &str) -> Option<i64> {
    let mut total = 0i64;
    let mut number = String::new();
    for c in text.chars() {
        match c.to_ascii_uppercase() {
            'H' => total += seconds_ms(&std::mem::take(&mut number))? * 3600,
            'M' => total += seconds_ms(&std::mem::take(&mut number))? * 60,
            'S' => total += seconds_ms(&std::mem::take(&mut number))?,
            c if c.is_ascii_digit() || c == '.' => number.push(c),
            _ => return None,
        }
    }
    number.is_empty().then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_parse_as_odata_writes_them() {
        let at = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z").unwrap().with_timezone(&Utc);
        let cases: Vec<(&str, Option<Literal>)> = vec![
            ("null", Some(Literal::Null)),
            ("true", Some(Literal::Bool(true))),
            ("42", Some(Literal::Int(42))),
            ("-7", Some(Literal::Int(-7))),
            ("2.5", Some(Literal::Number(2.5))),
            ("'800'", Some(Literal::String("800".into()))),
            ("'O''Brien'", Some(Literal::String("O'Brien".into()))),
            ("''''", Some(Literal::String("'".into()))),
            ("''", Some(Literal::String(String::new()))),
            ("2026-11-23T10:00:00Z", Some(Literal::DateTime(at))),
            ("2026-11-23T11:00:00+01:00", Some(Literal::DateTime(at))),
            ("2026-11-23", Some(Literal::DateTime(at - TimeDelta::hours(10)))),
            ("'open", None),
            ("'a'b'", None),
            ("frobnicate", None),
        ];
        for (text, expected) in cases {
            assert_eq!(Literal::parse(text), expected, "{text}");
        }
    }

    #[test]
    fn splitting_respects_quotes_and_parentheses() {
        assert_eq!(split_outside_quotes("a='x,y',b=1", ','), vec!["a='x,y'", "b=1"]);
        assert_eq!(split_outside_quotes("a='it''s, ok',b=(1,2)", ','), vec!["a='it''s, ok'", "b=(1,2)"]);
        assert_eq!(split_outside_quotes("/R/Pbx.F(f='a/b')", '/'), vec!["", "R", "Pbx.F(f='a/b')"]);
    }

    #[test]
    fn durations_read_timespans_iso_and_seconds() {
        let cases = [
            ("0:00:20", Some(20_000)),
            ("00:01:30.5", Some(90_500)),
            ("1.02:00:00", Some(26 * 3_600_000)),
            ("0:05", Some(300_000)),
            ("PT20S", Some(20_000)),
            ("PT1M2.5S", Some(62_500)),
            ("PT1H", Some(3_600_000)),
            ("20", Some(20_000)),
            ("-5", None),
            ("soon", None),
            ("PT5X", None),
        ];
        for (text, ms) in cases {
            assert_eq!(parse_duration(text).map(|d| d.num_milliseconds()), ms, "{text}");
        }
    }
}
