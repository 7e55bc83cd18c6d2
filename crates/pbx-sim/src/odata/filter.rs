//! `$filter`: a parser for the OData expressions clients send (comparisons, `and`/`or`/`not`,
//! parentheses, `contains`/`startswith`/`endswith`/`tolower`/`toupper`, literals) and their
//! evaluation against one JSON row.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::QueryError;

/// A parsed `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A property of the row (`Status`, or a path `Queue/Number`).
    Property(Vec<String>),
    /// A literal value.
    Literal(Literal),
    /// `left op right`.
    Compare(Box<Expr>, CompareOp, Box<Expr>),
    /// `left and right`.
    And(Box<Expr>, Box<Expr>),
    /// `left or right`.
    Or(Box<Expr>, Box<Expr>),
    /// `not expr`.
    Not(Box<Expr>),
    /// A function call (`contains(Name,'x')`).
    Call(Function, Vec<Expr>),
}

/// The comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `eq`.
    Eq,
    /// `ne`.
    Ne,
    /// `gt`.
    Gt,
    /// `ge`.
    Ge,
    /// `lt`.
    Lt,
    /// `le`.
    Le,
}

/// The functions the simulator understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `contains(text, part)`.
    Contains,
    /// `startswith(text, prefix)`.
    StartsWith,
    /// `endswith(text, suffix)`.
    EndsWith,
    /// `tolower(text)`.
    ToLower,
    /// `toupper(text)`.
    ToUpper,
}

/// A literal of the expression language.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A quoted string, unescaped.
    String(String),
    /// A bare date or date-time.
    DateTime(DateTime<Utc>),
}

/// Parses a `$filter` value.
pub fn parse(text: &str) -> Result<Expr, QueryError> {
    let tokens = tokenize(text)?;
    let mut parser = Parser { tokens, at: 0 };
    let expr = parser.or()?;
    if parser.at != parser.tokens.len() {
        return Err(QueryError::new(format!("unexpected '{}' in $filter", parser.tokens[parser.at].text())));
    }
    Ok(expr)
}

/// Whether `row` satisfies `expr` (a comparison with a missing property is false).
pub fn matches(expr: &Expr, row: &Value) -> bool {
    matches!(eval(expr, row), Literal::Bool(true))
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Num(f64),
    DateTime(DateTime<Utc>),
    Open,
    Close,
    Comma,
}

impl Token {
    fn text(&self) -> String {
        match self {
            Token::Ident(s) => s.clone(),
            Token::Str(s) => format!("'{s}'"),
            Token::Num(n) => n.to_string(),
            Token::DateTime(d) => d.to_rfc3339(),
            Token::Open => "(".into(),
            Token::Close => ")".into(),
            Token::Comma => ",".into(),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            ',' => {
                out.push(Token::Comma);
                i += 1;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(QueryError::new("unterminated string literal in $filter")),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Token::Str(s));
            }
            _ => {
                let start = i;
                while i < chars.len() && !matches!(chars[i], ' ' | '\t' | '(' | ')' | ',' | '\'') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                out.push(classify(&word)?);
            }
        }
    }
    Ok(out)
}

/// A bare word: a date/time, a number, or an identifier (property, operator, keyword).
fn classify(word: &str) -> Result<Token, QueryError> {
    let first = word.chars().next().unwrap_or(' ');
    if first.is_ascii_digit() || (first == '-' && word.len() > 1) {
        if let Ok(t) = DateTime::parse_from_rfc3339(word) {
            return Ok(Token::DateTime(t.with_timezone(&Utc)));
        }
        if let Ok(d) = NaiveDate::parse_from_str(word, "%Y-%m-%d") {
            return Ok(Token::DateTime(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()));
        }
        return word.parse::<f64>().map(Token::Num).map_err(|_| QueryError::new(format!("bad literal '{word}'")));
    }
    Ok(Token::Ident(word.to_string()))
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_word(&self) -> Option<String> {
        match self.tokens.get(self.at) {
            Some(Token::Ident(w)) => Some(w.to_ascii_lowercase()),
            _ => None,
        }
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while self.peek_word().as_deref() == Some("or") {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.not()?;
        while self.peek_word().as_deref() == Some("and") {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, QueryError> {
        if self.peek_word().as_deref() == Some("not") {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, QueryError> {
        let left = self.primary()?;
        let op = match self.peek_word().as_deref() {
            Some("eq") => CompareOp::Eq,
            Some("ne") => CompareOp::Ne,
            Some("gt") => CompareOp::Gt,
            Some("ge") => CompareOp::Ge,
            Some("lt") => CompareOp::Lt,
            Some("le") => CompareOp::Le,
            _ => return Ok(left),
        };
        self.at += 1;
        let right = self.primary()?;
        Ok(Expr::Compare(Box::new(left), op, Box::new(right)))
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let token = self.tokens.get(self.at).cloned().ok_or_else(|| QueryError::new("$filter ends too early"))?;
        self.at += 1;
        match token {
            Token::Open => {
                let inner = self.or()?;
                self.expect_close()?;
                Ok(inner)
            }
            Token::Str(s) => Ok(Expr::Literal(Literal::String(s))),
            Token::Num(n) => Ok(Expr::Literal(Literal::Number(n))),
            Token::DateTime(d) => Ok(Expr::Literal(Literal::DateTime(d))),
            Token::Ident(word) => self.word(word),
            other => Err(QueryError::new(format!("unexpected '{}' in $filter", other.text()))),
        }
    }

    fn word(&mut self, word: String) -> Result<Expr, QueryError> {
        match word.as_str() {
            "true" => return Ok(Expr::Literal(Literal::Bool(true))),
            "false" => return Ok(Expr::Literal(Literal::Bool(false))),
            "null" => return Ok(Expr::Literal(Literal::Null)),
            _ => {}
        }
        if self.tokens.get(self.at) == Some(&Token::Open) {
            let function = match word.to_ascii_lowercase().as_str() {
                "contains" => Function::Contains,
                "startswith" => Function::StartsWith,
                "endswith" => Function::EndsWith,
                "tolower" => Function::ToLower,
                "toupper" => Function::ToUpper,
                _ => return Err(QueryError::new(format!("unknown function '{word}' in $filter"))),
            };
            self.at += 1;
            let mut args = vec![self.or()?];
            while self.tokens.get(self.at) == Some(&Token::Comma) {
                self.at += 1;
                args.push(self.or()?);
            }
            self.expect_close()?;
            let arity = if matches!(function, Function::ToLower | Function::ToUpper) { 1 } else { 2 };
            if args.len() != arity {
                return Err(QueryError::new(format!("'{word}' takes {arity} argument(s)")));
            }
            return Ok(Expr::Call(function, args));
        }
        if !word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/') {
            return Err(QueryError::new(format!("'{word}' is not a property")));
        }
        Ok(Expr::Property(word.split('/').map(str::to_string).collect()))
    }

    fn expect_close(&mut self) -> Result<(), QueryError> {
        if self.tokens.get(self.at) != Some(&Token::Close) {
            return Err(QueryError::new("missing ')' in $filter"));
        }
        self.at += 1;
        Ok(())
    }
}

fn eval(expr: &Expr, row: &Value) -> Literal {
    match expr {
        Expr::Literal(l) => l.clone(),
        Expr::Property(path) => {
            let mut v = row;
            for name in path {
                match v.get(name) {
                    Some(next) => v = next,
                    None => return Literal::Null,
                }
            }
            from_json(v)
        }
        Expr::And(a, b) => Literal::Bool(matches(a, row) && matches(b, row)),
        Expr::Or(a, b) => Literal::Bool(matches(a, row) || matches(b, row)),
        Expr::Not(a) => Literal::Bool(!matches(a, row)),
        Expr::Compare(a, op, b) => Literal::Bool(compare(&eval(a, row), *op, &eval(b, row))),
        Expr::Call(function, args) => {
            let text = |i: usize| match eval(&args[i], row) {
                Literal::String(s) => Some(s),
                _ => None,
            };
            match function {
                Function::ToLower => text(0).map_or(Literal::Null, |s| Literal::String(s.to_lowercase())),
                Function::ToUpper => text(0).map_or(Literal::Null, |s| Literal::String(s.to_uppercase())),
                Function::Contains | Function::StartsWith | Function::EndsWith => match (text(0), text(1)) {
                    (Some(hay), Some(needle)) => Literal::Bool(match function {
                        Function::Contains => hay.contains(&needle),
                        Function::StartsWith => hay.starts_with(&needle),
                        _ => hay.ends_with(&needle),
                    }),
                    _ => Literal::Bool(false),
                },
            }
        }
    }
}

fn from_json(v: &Value) -> Literal {
    match v {
        Value::Null => Literal::Null,
        Value::Bool(b) => Literal::Bool(*b),
        Value::Number(n) => Literal::Number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => Literal::String(s.clone()),
        Value::Array(_) | Value::Object(_) => Literal::Null,
    }
}

fn compare(a: &Literal, op: CompareOp, b: &Literal) -> bool {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (a, b) {
        (Literal::Null, Literal::Null) => Some(Ordering::Equal),
        (Literal::Null, _) | (_, Literal::Null) => return op == CompareOp::Ne,
        (Literal::Number(x), Literal::Number(y)) => x.partial_cmp(y),
        (Literal::Bool(x), Literal::Bool(y)) => Some(x.cmp(y)),
        (Literal::String(x), Literal::String(y)) => Some(x.cmp(y)),
        (Literal::DateTime(x), Literal::DateTime(y)) => Some(x.cmp(y)),
        (Literal::String(s), Literal::DateTime(d)) => as_time(s).map(|t| t.cmp(d)),
        (Literal::DateTime(d), Literal::String(s)) => as_time(s).map(|t| d.cmp(&t)),
        _ => None,
    };
    let Some(ordering) = ordering else { return op == CompareOp::Ne };
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
    }
}

fn as_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row() -> Value {
        json!({
            "Id": 7, "Caller": "O'Brien <+4420>", "Status": "Talking", "Answered": true,
            "StartTime": "2026-11-23T10:15:00Z", "Queue": {"Number": "800"}, "Missing": null
        })
    }

    #[test]
    fn filters_evaluate_as_odata_says() {
        let cases: &[(&str, bool)] = &[
            ("Id eq 7", true),
            ("Id ne 7", false),
            ("Id gt 6 and Id lt 8", true),
            ("Id ge 8 or Status eq 'Talking'", true),
            ("not (Status eq 'Talking')", false),
            ("Caller eq 'O''Brien <+4420>'", true),
            ("contains(Caller,'Brien')", true),
            ("startswith(Caller, 'O''B')", true),
            ("endswith(Caller,'x')", false),
            ("tolower(Status) eq 'talking'", true),
            ("Answered eq true", true),
            ("StartTime ge 2026-11-23T10:00:00Z and StartTime lt 2026-11-23T11:00:00+00:00", true),
            ("StartTime gt 2026-11-24", false),
            ("Queue/Number eq '800'", true),
            ("Missing eq null", true),
            ("Nope eq 1", false),
            ("Nope ne 1", true),
            ("Status eq 7", false),
        ];
        for (filter, expected) in cases {
            let expr = parse(filter).unwrap_or_else(|e| panic!("{filter}: {e:?}"));
            assert_eq!(matches(&expr, &row()), *expected, "{filter}");
        }
    }

    #[test]
    fn malformed_filters_are_refused_with_a_reason() {
        for bad in ["Id eq", "Id eq 'open", "(Id eq 1", "Id eq 1)", "frobnicate(Id)", "contains(Caller)", "Id eq 1x"] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
