//! Parsers for the command line's durations (`60s`) and rates (`2000/s`).

use std::time::Duration;

/// Parses `500ms`, `60s`, `2m` or a bare number of seconds (fractions allowed).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit_secs) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number.trim().parse().map_err(|_| format!("{text:?} is not a duration (e.g. 60s, 500ms, 2m)"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{text:?} is not a duration (e.g. 60s, 500ms, 2m)"));
    }
    Ok(Duration::from_secs_f64(value * unit_secs))
}

/// Parses a rate per second: `2000/s`, `120/m` or a bare number per second; must be positive.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let (number, per_secs) = match text.split_once('/') {
        Some((n, "s")) => (n, 1.0),
        Some((n, "m")) => (n, 60.0),
        Some(_) => return Err(format!("{text:?} is not a rate (e.g. 2000/s)")),
        None => (text, 1.0),
    };
    let value: f64 = number.trim().parse().map_err(|_| format!("{text:?} is not a rate (e.g. 2000/s)"))?;
    if !value.is_finite() || value <= 0.0 {
        return Err(format!("{text:?}: a rate must be positive"));
    }
    Ok(value / per_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_their_unit() {
        let cases = [
            ("60s", Some(60_000)),
            ("500ms", Some(500)),
            ("2m", Some(120_000)),
            ("1.5", Some(1_500)),
            ("1h", Some(3_600_000)),
            ("-1s", None),
            ("soon", None),
        ];
        for (text, millis) in cases {
            assert_eq!(parse_duration(text).ok().map(|d| d.as_millis() as u64), millis, "{text}");
        }
    }

    #[test]
    fn rates_parse_per_second() {
        let cases = [("2000/s", Some(2000.0)), ("120/m", Some(2.0)), ("4", Some(4.0)), ("0/s", None), ("5/h", None)];
        for (text, rate) in cases {
            assert_eq!(parse_rate(text).ok(), rate, "{text}");
        }
    }
}
