//! Rust names for the document's names: snake_case fields and methods, PascalCase types and
//! variants, raw identifiers for keywords.

/// Words of an identifier: split at `_`/punctuation, at a lower-to-upper change, at the end of an
/// acronym (`SLATime` → `SLA`, `Time`) and at a digit-to-letter change (`Play12Hr` → `Play12`, `Hr`).
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if let Some(&prev) = current.chars().last().as_ref() {
            let next = chars.get(i + 1).copied();
            let boundary = (c.is_ascii_uppercase() && (prev.is_ascii_lowercase() || prev.is_ascii_digit()))
                || (c.is_ascii_uppercase()
                    && prev.is_ascii_uppercase()
                    && next.is_some_and(|n| n.is_ascii_lowercase()));
            if boundary {
                words.push(std::mem::take(&mut current));
            }
        }
        current.push(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// `SLATime` → `sla_time`, `actionDnDn` → `action_dn_dn`, `@odata.count` → `odata_count`.
pub fn snake_case(name: &str) -> String {
    let snake = words(name).iter().map(|w| w.to_ascii_lowercase()).collect::<Vec<_>>().join("_");
    if snake.starts_with(|c: char| c.is_ascii_digit()) {
        format!("n{snake}")
    } else {
        snake
    }
}

/// `SkillBasedRouting_RingAll` → `SkillBasedRoutingRingAll`, `IVR` → `Ivr`, `get_call_log_data`
/// → `GetCallLogData`. All-capital words become capitalised (clippy's `upper_case_acronyms`).
pub fn pascal_case(name: &str) -> String {
    let mut out = String::new();
    for word in name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        let all_upper = word.chars().all(|c| !c.is_ascii_lowercase());
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            let rest: String = chars.collect();
            out.push_str(&if all_upper { rest.to_ascii_lowercase() } else { rest });
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        format!("V{out}")
    } else {
        out
    }
}

/// `snake` as an identifier: `type` → `r#type`, `self` → `self_`.
pub fn field_ident(snake: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn", "else", "enum",
        "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match", "mod",
        "move", "mut", "override", "priv", "pub", "ref", "return", "static", "struct", "trait", "true", "try", "type",
        "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
    ];
    match snake {
        "self" | "Self" | "super" | "crate" => format!("{snake}_"),
        _ if KEYWORDS.contains(&snake) => format!("r#{snake}"),
        _ => snake.to_owned(),
    }
}

/// The Rust type name of a component schema: its last dotted segment, PascalCase
/// (`Pbx.ActiveCall` → `ActiveCall`, `Pbx.ODataErrors.ODataError` → `ODataError`).
pub fn type_name(schema: &str) -> String {
    pascal_case(schema.rsplit('.').next().unwrap_or(schema))
}

/// `SCREAMING_CASE` of a name, for associated constants.
pub fn screaming_case(name: &str) -> String {
    snake_case(name).to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_splits_words_acronyms_and_digits() {
        let cases = [
            ("Id", "id"),
            ("SLATime", "sla_time"),
            ("actionDnDn", "action_dn_dn"),
            ("MOSFromPBX", "mos_from_pbx"),
            ("VMEmailOptions", "vm_email_options"),
            ("YValue1", "y_value1"),
            ("Play12Hr", "play12_hr"),
            ("@odata.count", "odata_count"),
            ("MS365TeamsEnabled", "ms365_teams_enabled"),
            ("Enable2FA", "enable2_fa"),
            ("periodFrom", "period_from"),
        ];
        for (input, expected) in cases {
            assert_eq!(snake_case(input), expected, "{input}");
        }
    }

    #[test]
    fn pascal_case_joins_words_and_tames_acronyms() {
        let cases = [
            ("SkillBasedRouting_RingAll", "SkillBasedRoutingRingAll"),
            ("IVR", "Ivr"),
            ("SLATimeBreached", "SLATimeBreached"),
            ("get_call_log_data", "GetCallLogData"),
            ("WARNINGS.XAPI.NOT_FOUND", "WarningsXapiNotFound"),
            ("2FA", "V2fa"),
        ];
        for (input, expected) in cases {
            assert_eq!(pascal_case(input), expected, "{input}");
        }
    }

    #[test]
    fn keywords_become_raw_identifiers() {
        assert_eq!(field_ident("type"), "r#type");
        assert_eq!(field_ident("self"), "self_");
        assert_eq!(field_ident("to"), "to");
    }

    #[test]
    fn type_names_drop_the_namespace() {
        assert_eq!(type_name("Pbx.ActiveCall"), "ActiveCall");
        assert_eq!(type_name("Pbx.ODataErrors.ODataError"), "ODataError");
    }
}
