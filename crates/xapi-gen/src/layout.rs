//! Writing Rust text the way rustfmt would (`max_width = 120`, `use_small_heuristics = "Max"`),
//! so the generated files read like the rest of the workspace.

/// rustfmt's `max_width` in this workspace.
pub const MAX_WIDTH: usize = 120;

/// `n` levels of four spaces.
pub fn pad(level: usize) -> String {
    "    ".repeat(level)
}

/// `text` as `///` lines at `level`, words wrapped to fit `MAX_WIDTH` (a word longer than a line
/// gets a line of its own); nothing for an empty text.
pub fn doc(level: usize, text: &str) -> String {
    let prefix = format!("{}///", pad(level));
    let mut out = String::new();
    for line in text.trim().lines() {
        let mut current = prefix.clone();
        for word in line.split_whitespace() {
            if current.len() > prefix.len() && current.len() + 1 + word.len() > MAX_WIDTH {
                out.push_str(&current);
                out.push('\n');
                current = prefix.clone();
            }
            current.push(' ');
            current.push_str(word);
        }
        out.push_str(&current);
        out.push('\n');
    }
    out
}

/// `{head}({args}){tail}` at `level`: on one line if it fits, else one argument per line with a
/// trailing comma (rustfmt's layout for calls and signatures). No final newline.
pub fn call(level: usize, head: &str, args: &[String], tail: &str) -> String {
    let one_line = format!("{}{head}({}){tail}", pad(level), args.join(", "));
    if one_line.len() <= MAX_WIDTH {
        return one_line;
    }
    let mut out = format!("{}{head}(\n", pad(level));
    for arg in args {
        out.push_str(&format!("{}{arg},\n", pad(level + 1)));
    }
    out.push_str(&format!("{}){tail}", pad(level)));
    out
}

/// A struct literal `{name} { a: x, b: y }{tail}` at `level`: one line if it fits, else one field
/// per line. No final newline.
pub fn struct_literal(level: usize, name: &str, fields: &[(String, String)], tail: &str) -> String {
    let inline: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let one_line = format!("{}{name} {{ {} }}{tail}", pad(level), inline.join(", "));
    if one_line.len() <= MAX_WIDTH {
        return one_line;
    }
    let mut out = format!("{}{name} {{\n", pad(level));
    for field in inline {
        out.push_str(&format!("{}{field},\n", pad(level + 1)));
    }
    out.push_str(&format!("{}}}{tail}", pad(level)));
    out
}

/// A Rust string literal of `text`.
pub fn string_literal(text: &str) -> String {
    format!("{text:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_that_fits_stays_on_one_line() {
        assert_eq!(call(1, "f", &["a".to_owned(), "b".to_owned()], ";"), "    f(a, b);");
    }

    #[test]
    fn a_call_that_does_not_fit_gets_one_argument_per_line() {
        let long = "x".repeat(60);
        let text = call(2, "f", &[long.clone(), long.clone()], ";");
        assert_eq!(text, format!("        f(\n            {long},\n            {long},\n        );"));
    }

    #[test]
    fn doc_comments_keep_paragraphs_and_drop_trailing_spaces() {
        assert_eq!(doc(0, "One. \n\nTwo."), "/// One.\n///\n/// Two.\n");
    }

    #[test]
    fn doc_comments_wrap_at_the_maximum_width() {
        let text = ["word"; 40].join(" ");
        let wrapped = doc(1, &text);
        assert!(wrapped.lines().all(|l| l.len() <= MAX_WIDTH && l.starts_with("    /// ")), "{wrapped}");
        assert_eq!(wrapped.lines().count(), 2);
    }
}
