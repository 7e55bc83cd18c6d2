//! `$filter` expressions: typed comparisons, `and`/`or`/`not` and the string functions, rendered
//! with the parentheses that precedence needs. Values are turned into OData literals when the
//! expression is built, so a filter is plain data that compares and clones.

use std::fmt;

use crate::odata::ToODataLiteral;

/// A comparison operator of `$filter`.
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

impl CompareOp {
    fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

/// A boolean string function of `$filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringFunction {
    /// `contains(field,'text')`.
    Contains,
    /// `startswith(field,'text')`.
    StartsWith,
    /// `endswith(field,'text')`.
    EndsWith,
}

impl StringFunction {
    fn as_str(self) -> &'static str {
        match self {
            StringFunction::Contains => "contains",
            StringFunction::StartsWith => "startswith",
            StringFunction::EndsWith => "endswith",
        }
    }
}

/// A `$filter` expression. Field names are property paths of the entity (`Status`,
/// `Queue/Number`) written as given; values are OData literals (see [`ToODataLiteral`]).
///
/// `Display` renders the expression unencoded (`Name eq 'O''Brien' and Id gt 5`); the query
/// builder percent-encodes it for the URL.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `field op literal`.
    Compare {
        /// The property path.
        field: String,
        /// The operator.
        op: CompareOp,
        /// The literal, already rendered.
        literal: String,
    },
    /// `function(field,literal)`.
    Function {
        /// The function.
        function: StringFunction,
        /// The property path.
        field: String,
        /// The literal, already rendered.
        literal: String,
    },
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
    /// The expression does not hold.
    Not(Box<Filter>),
}

impl Filter {
    /// `field op value`.
    pub fn compare(field: impl Into<String>, op: CompareOp, value: impl ToODataLiteral) -> Filter {
        Filter::Compare { field: field.into(), op, literal: value.to_odata_literal() }
    }

    /// `field eq value`.
    pub fn eq(field: impl Into<String>, value: impl ToODataLiteral) -> Filter {
        Filter::compare(field, CompareOp::Eq, value)
    }

    /// `field ne value`.
    pub fn ne(field: impl Into<String>, value: impl ToODataLiteral) -> Filter {
        Filter::compare(field, CompareOp::Ne, value)
    }

    /// `field gt value`.
    pub fn gt(field: impl Into<String>, value: impl ToODataLiteral) -> Filter {
        Filter::compare(field, CompareOp::Gt, value)
    }

    /// `field ge value`.
    pub fn ge(field: impl Into<String>, value: impl ToODataLiteral) -> Filter {
        Filter::compare(field, CompareOp::Ge, value)
    }

    /// `field lt value`.
    pub fn lt(field: impl Into<String>, value: impl ToODataLiteral) -> Filter {
        Filter::compare(field, CompareOp::Lt, value)
    }

    /// `field le value`.
    pub fn le(field: impl Into<String>, value: impl ToODataLiteral) -> Filter {
        Filter::compare(field, CompareOp::Le, value)
    }

    /// `contains(field,'text')`.
    pub fn contains(field: impl Into<String>, text: &str) -> Filter {
        Filter::function(StringFunction::Contains, field, text)
    }

    /// `startswith(field,'text')`.
    pub fn starts_with(field: impl Into<String>, text: &str) -> Filter {
        Filter::function(StringFunction::StartsWith, field, text)
    }

    /// `endswith(field,'text')`.
    pub fn ends_with(field: impl Into<String>, text: &str) -> Filter {
        Filter::function(StringFunction::EndsWith, field, text)
    }

    fn function(function: StringFunction, field: impl Into<String>, text: &str) -> Filter {
        Filter::Function { function, field: field.into(), literal: text.to_odata_literal() }
    }

    /// `self and other`.
    pub fn and(self, other: Filter) -> Filter {
        Filter::And(Box::new(self), Box::new(other))
    }

    /// `self or other`.
    pub fn or(self, other: Filter) -> Filter {
        Filter::Or(Box::new(self), Box::new(other))
    }

    /// `not self` (also available as `!filter`).
    pub fn negate(self) -> Filter {
        Filter::Not(Box::new(self))
    }

    /// Binding strength: `or` < `and` < everything else.
    fn precedence(&self) -> u8 {
        match self {
            Filter::Or(..) => 1,
            Filter::And(..) => 2,
            Filter::Compare { .. } | Filter::Function { .. } | Filter::Not(_) => 3,
        }
    }

    fn write_operand(&self, out: &mut fmt::Formatter<'_>, min_precedence: u8) -> fmt::Result {
        if self.precedence() < min_precedence {
            write!(out, "({self})")
        } else {
            write!(out, "{self}")
        }
    }
}

impl std::ops::Not for Filter {
    type Output = Filter;

    fn not(self) -> Filter {
        self.negate()
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { field, op, literal } => write!(out, "{field} {} {literal}", op.as_str()),
            Filter::Function { function, field, literal } => write!(out, "{}({field},{literal})", function.as_str()),
            Filter::And(left, right) => {
                left.write_operand(out, 2)?;
                out.write_str(" and ")?;
                right.write_operand(out, 2)
            }
            Filter::Or(left, right) => {
                left.write_operand(out, 1)?;
                out.write_str(" or ")?;
                right.write_operand(out, 1)
            }
            Filter::Not(inner) => match inner.as_ref() {
                Filter::Function { .. } => write!(out, "not {inner}"),
                _ => write!(out, "not ({inner})"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn filters_render_as_odata() {
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let cases: Vec<(Filter, &str)> = vec![
            (Filter::eq("Name", "O'Brien"), "Name eq 'O''Brien'"),
            (Filter::ne("Id", 5), "Id ne 5"),
            (Filter::gt("Duration", 1.5), "Duration gt 1.5"),
            (Filter::ge("EstablishedAt", at), "EstablishedAt ge 2026-11-23T10:00:00Z"),
            (Filter::lt("Id", 9_000_000_000_i64), "Id lt 9000000000"),
            (Filter::le("Queue/Number", "800"), "Queue/Number le '800'"),
            (Filter::eq("IsRegistered", true), "IsRegistered eq true"),
            (Filter::eq("Group", None::<String>), "Group eq null"),
            (Filter::contains("DisplayName", "a'b"), "contains(DisplayName,'a''b')"),
            (Filter::starts_with("Number", "80"), "startswith(Number,'80')"),
            (Filter::ends_with("Email", "@x.com"), "endswith(Email,'@x.com')"),
            (Filter::eq("A", 1).and(Filter::eq("B", 2)).and(Filter::eq("C", 3)), "A eq 1 and B eq 2 and C eq 3"),
            (Filter::eq("A", 1).or(Filter::eq("B", 2)).and(Filter::eq("C", 3)), "(A eq 1 or B eq 2) and C eq 3"),
            (Filter::eq("A", 1).and(Filter::eq("B", 2)).or(Filter::eq("C", 3)), "A eq 1 and B eq 2 or C eq 3"),
            (Filter::eq("A", 1).and(Filter::eq("B", 2).or(Filter::eq("C", 3))), "A eq 1 and (B eq 2 or C eq 3)"),
            (!Filter::eq("A", 1), "not (A eq 1)"),
            (!Filter::contains("Name", "x"), "not contains(Name,'x')"),
            (!(Filter::eq("A", 1).or(Filter::eq("B", 2))), "not (A eq 1 or B eq 2)"),
        ];
        for (filter, expected) in cases {
            assert_eq!(filter.to_string(), expected);
        }
    }
}
