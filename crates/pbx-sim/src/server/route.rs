//! The XAPI routes the simulator answers, parsed from the percent-decoded request path below
//! `/xapi/v1` into [`XapiRoute`]. 3CX's paths carry OData keys and function parameters in
//! parentheses with quoted strings, so they are parsed here rather than matched by axum.

use chrono::{DateTime, Utc};

use super::literal::{split_outside_quotes, Literal};

/// How an entity is addressed: by its `Id` key or by its alternate key `Number`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityKey {
    /// `Queues(12)`.
    Id(i32),
    /// `Queues(Number='800')`.
    Number(String),
}

/// The parameters of `Pbx.GetCallLogData`.
#[derive(Debug, Clone, PartialEq)]
pub struct CallLogParams {
    /// Calls that arrived at or after this instant.
    pub period_from: DateTime<Utc>,
    /// Calls that arrived before this instant.
    pub period_to: DateTime<Utc>,
    /// 0: any source; the simulator applies only `source_filter`.
    pub source_type: i64,
    /// Part of the caller's number or DN, when set and not empty.
    pub source_filter: Option<String>,
    /// 0: any destination; the simulator applies only `destination_filter`.
    pub destination_type: i64,
    /// A queue, agent or voicemail DN (or part of one) some segment of the call must reach.
    pub destination_filter: Option<String>,
    /// 0: all calls, 1: answered calls only, 2: unanswered calls only.
    pub calls_type: i64,
    /// 0: no filter on talking time; otherwise the call's talking time must lie between
    /// `call_time_filter_from` and `call_time_filter_to` (durations, either may be null).
    pub call_time_filter_type: i64,
    /// Lower bound of the talking time.
    pub call_time_filter_from: Option<String>,
    /// Upper bound of the talking time.
    pub call_time_filter_to: Option<String>,
    /// Hide "P calls"; the simulator has none, so it is accepted and ignored.
    pub hide_pcalls: bool,
}

/// The queue report functions the simulator computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportKind {
    /// `Pbx.GetQueuePerformanceOverviewData`: per queue and agent.
    PerformanceOverview,
    /// `Pbx.GetQueuePerformanceTotalsData`: per queue.
    PerformanceTotals,
    /// `Pbx.GetAbandonedQueueCallsData`: one row per abandoned call.
    AbandonedCalls,
    /// `Pbx.GetAgentsInQueueStatisticsData`: per queue and agent.
    AgentsInQueue,
    /// `Pbx.GetAverageQueueWaitingTimeData`: a time series.
    AverageWaitingTime,
    /// `Pbx.GetDetailedQueueStatisticsData`: per queue.
    DetailedStatistics,
    /// `Pbx.GetQueueAnUnCallsData`: a time series of answered and unanswered calls.
    AnsweredUnanswered,
    /// `Pbx.GetQueueAnsweredCallsByWaitTimeData`: one row per answered call.
    AnsweredByWaitTime,
    /// `Pbx.GetStatisticSlaData`: per queue.
    SlaStatistics,
    /// `Pbx.GetBreachesSlaData`: one row per call that waited past the threshold.
    SlaBreaches,
    /// `Pbx.GetTeamQueueGeneralStatisticsData`: per queue.
    TeamGeneral,
    /// `Pbx.GetQueueCallbacksData`: per queue.
    Callbacks,
    /// `Pbx.GetQueueFailedCallbacksData`: one row per failed callback.
    FailedCallbacks,
}

/// One report function: the entity set and function names and its parameters, in the order
/// 3CX's document lists them.
struct ReportSpec {
    kind: ReportKind,
    entity_set: &'static str,
    function: &'static str,
    params: &'static [&'static str],
}

const PERIOD: &[&str] = &["periodFrom", "periodTo", "queueDns", "waitInterval"];
const RANGE: &[&str] = &["queueDnStr", "startDt", "endDt", "waitInterval"];

const REPORTS: &[ReportSpec] = &[
    ReportSpec {
        kind: ReportKind::PerformanceOverview,
        entity_set: "ReportQueuePerformanceOverview",
        function: "Pbx.GetQueuePerformanceOverviewData",
        params: PERIOD,
    },
    ReportSpec {
        kind: ReportKind::PerformanceTotals,
        entity_set: "ReportQueuePerformanceTotals",
        function: "Pbx.GetQueuePerformanceTotalsData",
        params: PERIOD,
    },
    ReportSpec {
        kind: ReportKind::AbandonedCalls,
        entity_set: "ReportAbandonedQueueCalls",
        function: "Pbx.GetAbandonedQueueCallsData",
        params: PERIOD,
    },
    ReportSpec {
        kind: ReportKind::AgentsInQueue,
        entity_set: "ReportAgentsInQueueStatistics",
        function: "Pbx.GetAgentsInQueueStatisticsData",
        params: RANGE,
    },
    ReportSpec {
        kind: ReportKind::AverageWaitingTime,
        entity_set: "ReportAverageQueueWaitingTime",
        function: "Pbx.GetAverageQueueWaitingTimeData",
        params: &["chartDate", "chartBy", "queueDnStr", "waitInterval", "clientTimeZone"],
    },
    ReportSpec {
        kind: ReportKind::DetailedStatistics,
        entity_set: "ReportDetailedQueueStatistics",
        function: "Pbx.GetDetailedQueueStatisticsData",
        params: RANGE,
    },
    ReportSpec {
        kind: ReportKind::AnsweredUnanswered,
        entity_set: "ReportQueueAnUnCalls",
        function: "Pbx.GetQueueAnUnCallsData",
        params: &["chartDate", "chartBy", "queueDnStr", "clientTimeZone", "waitInterval"],
    },
    ReportSpec {
        kind: ReportKind::AnsweredByWaitTime,
        entity_set: "ReportQueueAnsweredCallsByWaitTime",
        function: "Pbx.GetQueueAnsweredCallsByWaitTimeData",
        params: &["queueDnStr", "startDt", "endDt", "answerInterval"],
    },
    ReportSpec {
        kind: ReportKind::SlaStatistics,
        entity_set: "ReportStatisticSla",
        function: "Pbx.GetStatisticSlaData",
        params: RANGE,
    },
    ReportSpec {
        kind: ReportKind::SlaBreaches,
        entity_set: "ReportBreachesSla",
        function: "Pbx.GetBreachesSlaData",
        params: RANGE,
    },
    ReportSpec {
        kind: ReportKind::TeamGeneral,
        entity_set: "ReportTeamQueueGeneralStatistics",
        function: "Pbx.GetTeamQueueGeneralStatisticsData",
        params: RANGE,
    },
    ReportSpec {
        kind: ReportKind::Callbacks,
        entity_set: "ReportQueueCallbacks",
        function: "Pbx.GetQueueCallbacksData",
        params: &["queueDnStr", "startDt", "endDt"],
    },
    ReportSpec {
        kind: ReportKind::FailedCallbacks,
        entity_set: "ReportQueueFailedCallbacks",
        function: "Pbx.GetQueueFailedCallbacksData",
        params: &["queueDnStr", "startDt", "endDt"],
    },
];

/// The time a report covers.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportWindow {
    /// Calls that arrived in `[from, to)`.
    Period {
        /// Start (inclusive).
        from: DateTime<Utc>,
        /// End (exclusive).
        to: DateTime<Utc>,
    },
    /// A chart around `date`: `by` names the length of one point (`hour`, `day` or `month`).
    Chart {
        /// A day (for hourly points), a month (daily points) or a year (monthly points).
        date: DateTime<Utc>,
        /// The point length; null means `hour`.
        by: Option<String>,
        /// The client's time zone as a UTC offset (`+01:00`); other names are read as UTC.
        time_zone: Option<String>,
    },
}

/// The parameters of a queue report, normalised across the functions' spellings.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportParams {
    /// The queues' DNs (`queueDns`/`queueDnStr`, comma-separated); `None` means every queue.
    pub queues: Option<Vec<String>>,
    /// The period or chart.
    pub window: ReportWindow,
    /// `waitInterval`/`answerInterval`: the wait threshold as sent (a TimeSpan such as `0:00:20`).
    pub threshold: Option<String>,
}

/// A request below `/xapi/v1` the simulator answers.
#[derive(Debug, Clone, PartialEq)]
pub enum XapiRoute {
    /// `GET /ActiveCalls`.
    ActiveCalls,
    /// `POST /ActiveCalls({id})/Pbx.DropCall`.
    DropCall {
        /// The live call.
        id: i32,
    },
    /// `GET /CallHistoryView`.
    CallHistory,
    /// `GET /ReportCallLogData/Pbx.GetCallLogData(...)`.
    CallLog(CallLogParams),
    /// `GET /Queues`.
    Queues,
    /// `GET /Queues({key})`.
    Queue(EntityKey),
    /// `GET /Queues({id})/Agents`.
    QueueAgents(i32),
    /// `GET /Queues({id})/Managers`.
    QueueManagers(i32),
    /// `GET /Users`.
    Users,
    /// `GET /Users({key})`.
    User(EntityKey),
    /// `GET /Report.../Pbx.Get...Data(...)`.
    Report(ReportKind, ReportParams),
}

/// Why a request names no route: 404 (nothing there), 405 (wrong method) or 400 (bad key or
/// parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteError {
    /// The HTTP status to answer.
    pub status: u16,
    /// What was wrong.
    pub message: String,
}

impl RouteError {
    fn not_found(path: &str) -> RouteError {
        RouteError { status: 404, message: format!("no resource at '{path}'") }
    }

    fn bad(message: impl Into<String>) -> RouteError {
        RouteError { status: 400, message: message.into() }
    }
}

impl XapiRoute {
    /// Parses `path` (percent-decoded, relative to `/xapi/v1`, e.g. `/Queues(3)/Agents`) for
    /// `method`.
    pub fn parse(method: &str, path: &str) -> Result<XapiRoute, RouteError> {
        let segments: Vec<&str> = split_outside_quotes(path.trim_start_matches('/'), '/');
        let (head, head_args) = split_call(segments[0]).ok_or_else(|| RouteError::not_found(path))?;
        let route = match (head, head_args, &segments[1..]) {
            ("ActiveCalls", None, []) => XapiRoute::ActiveCalls,
            ("ActiveCalls", Some(key), ["Pbx.DropCall"]) => XapiRoute::DropCall { id: id_key(key)? },
            ("CallHistoryView", None, []) => XapiRoute::CallHistory,
            ("ReportCallLogData", None, [call]) => {
                let (function, args) = split_call(call).ok_or_else(|| RouteError::not_found(path))?;
                match (function, args) {
                    ("Pbx.GetCallLogData", Some(args)) => XapiRoute::CallLog(call_log_params(args)?),
                    _ => return Err(RouteError::not_found(path)),
                }
            }
            ("Queues", None, []) => XapiRoute::Queues,
            ("Queues", Some(key), []) => XapiRoute::Queue(entity_key(key)?),
            ("Queues", Some(key), ["Agents"]) => XapiRoute::QueueAgents(id_key(key)?),
            ("Queues", Some(key), ["Managers"]) => XapiRoute::QueueManagers(id_key(key)?),
            ("Users", None, []) => XapiRoute::Users,
            ("Users", Some(key), []) => XapiRoute::User(entity_key(key)?),
            (set, None, [call]) => {
                let (function, args) = split_call(call).ok_or_else(|| RouteError::not_found(path))?;
                let spec = REPORTS
                    .iter()
                    .find(|r| r.entity_set == set && r.function == function)
                    .ok_or_else(|| RouteError::not_found(path))?;
                let args = args.ok_or_else(|| RouteError::bad(format!("{function} needs its parameters")))?;
                XapiRoute::Report(spec.kind, report_params(spec, args)?)
            }
            _ => return Err(RouteError::not_found(path)),
        };
        let expected = if matches!(route, XapiRoute::DropCall { .. }) { "POST" } else { "GET" };
        if method != expected {
            return Err(RouteError { status: 405, message: format!("{method} is not allowed on '{path}'") });
        }
        Ok(route)
    }
}

/// `Name(args)` → (`Name`, `Some(args)`); `Name` → (`Name`, `None`); `None` when malformed.
fn split_call(segment: &str) -> Option<(&str, Option<&str>)> {
    match segment.find('(') {
        None => (!segment.is_empty()).then_some((segment, None)),
        Some(open) => {
            let inner = segment[open + 1..].strip_suffix(')')?;
            Some((&segment[..open], Some(inner)))
        }
    }
}

fn id_key(key: &str) -> Result<i32, RouteError> {
    match entity_key(key)? {
        EntityKey::Id(id) => Ok(id),
        EntityKey::Number(_) => Err(RouteError::bad(format!("'{key}' is not an Id key"))),
    }
}

fn entity_key(key: &str) -> Result<EntityKey, RouteError> {
    let (name, value) = match key.split_once('=') {
        Some((name, value)) if !name.contains('\'') => (name.trim(), value),
        _ => ("Id", key),
    };
    match (name, Literal::parse(value)) {
        ("Id", Some(Literal::Int(id))) => {
            i32::try_from(id).map(EntityKey::Id).map_err(|_| RouteError::bad(format!("key {id} is out of range")))
        }
        ("Number", Some(Literal::String(number))) => Ok(EntityKey::Number(number)),
        _ => Err(RouteError::bad(format!("bad key '{key}': expected an integer Id or Number='...'"))),
    }
}

/// A function's named arguments, each taken once by name and type.
struct Args<'a> {
    function: &'a str,
    values: Vec<(String, Literal)>,
}

impl<'a> Args<'a> {
    /// Parses `name=literal,...` and checks the names are exactly `expected`.
    fn parse(function: &'a str, text: &str, expected: &[&str]) -> Result<Args<'a>, RouteError> {
        let mut values = Vec::new();
        for part in split_outside_quotes(text, ',').into_iter().filter(|p| !p.trim().is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| RouteError::bad(format!("{function}: '{part}' is not name=value")))?;
            let literal = Literal::parse(value)
                .ok_or_else(|| RouteError::bad(format!("{function}: '{value}' is not an OData literal")))?;
            values.push((name.trim().to_string(), literal));
        }
        let mut names: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        let mut wanted: Vec<&str> = expected.to_vec();
        wanted.sort_unstable();
        if names != wanted {
            return Err(RouteError::bad(format!("{function} takes the parameters {}", expected.join(","))));
        }
        Ok(Args { function, values })
    }

    fn take(&mut self, name: &str) -> Literal {
        let at = self.values.iter().position(|(n, _)| n == name).expect("names were checked");
        self.values.swap_remove(at).1
    }

    fn wrong(&self, name: &str, wanted: &str, got: &Literal) -> RouteError {
        RouteError::bad(format!("{}: {name} must be {wanted}, not {}", self.function, got.kind()))
    }

    fn datetime(&mut self, name: &str) -> Result<DateTime<Utc>, RouteError> {
        match self.take(name) {
            Literal::DateTime(t) => Ok(t),
            other => Err(self.wrong(name, "a date-time", &other)),
        }
    }

    fn int(&mut self, name: &str) -> Result<i64, RouteError> {
        match self.take(name) {
            Literal::Int(n) => Ok(n),
            other => Err(self.wrong(name, "an integer", &other)),
        }
    }

    fn boolean(&mut self, name: &str) -> Result<bool, RouteError> {
        match self.take(name) {
            Literal::Bool(b) => Ok(b),
            other => Err(self.wrong(name, "true or false", &other)),
        }
    }

    fn text(&mut self, name: &str) -> Result<Option<String>, RouteError> {
        match self.take(name) {
            Literal::String(s) => Ok(Some(s)),
            Literal::Null => Ok(None),
            other => Err(self.wrong(name, "a string or null", &other)),
        }
    }
}

fn call_log_params(text: &str) -> Result<CallLogParams, RouteError> {
    const NAMES: &[&str] = &[
        "periodFrom",
        "periodTo",
        "sourceType",
        "sourceFilter",
        "destinationType",
        "destinationFilter",
        "callsType",
        "callTimeFilterType",
        "callTimeFilterFrom",
        "callTimeFilterTo",
        "hidePcalls",
    ];
    let mut args = Args::parse("Pbx.GetCallLogData", text, NAMES)?;
    Ok(CallLogParams {
        period_from: args.datetime("periodFrom")?,
        period_to: args.datetime("periodTo")?,
        source_type: args.int("sourceType")?,
        source_filter: args.text("sourceFilter")?,
        destination_type: args.int("destinationType")?,
        destination_filter: args.text("destinationFilter")?,
        calls_type: args.int("callsType")?,
        call_time_filter_type: args.int("callTimeFilterType")?,
        call_time_filter_from: args.text("callTimeFilterFrom")?,
        call_time_filter_to: args.text("callTimeFilterTo")?,
        hide_pcalls: args.boolean("hidePcalls")?,
    })
}

fn report_params(spec: &ReportSpec, text: &str) -> Result<ReportParams, RouteError> {
    let mut args = Args::parse(spec.function, text, spec.params)?;
    let has = |name: &str| spec.params.contains(&name);
    let queues = if has("queueDns") { args.text("queueDns")? } else { args.text("queueDnStr")? };
    let window = if has("periodFrom") {
        ReportWindow::Period { from: args.datetime("periodFrom")?, to: args.datetime("periodTo")? }
    } else if has("startDt") {
        ReportWindow::Period { from: args.datetime("startDt")?, to: args.datetime("endDt")? }
    } else {
        ReportWindow::Chart {
            date: args.datetime("chartDate")?,
            by: args.text("chartBy")?,
            time_zone: args.text("clientTimeZone")?,
        }
    };
    let threshold = if has("waitInterval") {
        args.text("waitInterval")?
    } else if has("answerInterval") {
        args.text("answerInterval")?
    } else {
        None
    };
    let queues = queues
        .map(|list| list.split(',').map(|dn| dn.trim().to_string()).filter(|dn| !dn.is_empty()).collect::<Vec<_>>());
    Ok(ReportParams { queues: queues.filter(|q| !q.is_empty()), window, threshold })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn paths_parse_into_routes() {
        let cases: Vec<(&str, &str, XapiRoute)> = vec![
            ("GET", "/ActiveCalls", XapiRoute::ActiveCalls),
            ("POST", "/ActiveCalls(17)/Pbx.DropCall", XapiRoute::DropCall { id: 17 }),
            ("GET", "/CallHistoryView", XapiRoute::CallHistory),
            ("GET", "/Queues", XapiRoute::Queues),
            ("GET", "/Queues(3)", XapiRoute::Queue(EntityKey::Id(3))),
            ("GET", "/Queues(Number='8''00')", XapiRoute::Queue(EntityKey::Number("8'00".into()))),
            ("GET", "/Queues(3)/Agents", XapiRoute::QueueAgents(3)),
            ("GET", "/Queues(3)/Managers", XapiRoute::QueueManagers(3)),
            ("GET", "/Users", XapiRoute::Users),
            ("GET", "/Users(Number='101')", XapiRoute::User(EntityKey::Number("101".into()))),
            (
                "GET",
                "/ReportQueuePerformanceOverview/Pbx.GetQueuePerformanceOverviewData(periodFrom=2026-11-23T08:00:00Z,periodTo=2026-11-23T09:00:00Z,queueDns='800,801',waitInterval='0:00:20')",
                XapiRoute::Report(
                    ReportKind::PerformanceOverview,
                    ReportParams {
                        queues: Some(vec!["800".into(), "801".into()]),
                        window: ReportWindow::Period {
                            from: at("2026-11-23T08:00:00Z"),
                            to: at("2026-11-23T09:00:00Z"),
                        },
                        threshold: Some("0:00:20".into()),
                    },
                ),
            ),
            (
                "GET",
                "/ReportAverageQueueWaitingTime/Pbx.GetAverageQueueWaitingTimeData(chartDate=2026-11-23T00:00:00Z,chartBy='hour',queueDnStr='',waitInterval=null,clientTimeZone='+01:00')",
                XapiRoute::Report(
                    ReportKind::AverageWaitingTime,
                    ReportParams {
                        queues: None,
                        window: ReportWindow::Chart {
                            date: at("2026-11-23T00:00:00Z"),
                            by: Some("hour".into()),
                            time_zone: Some("+01:00".into()),
                        },
                        threshold: None,
                    },
                ),
            ),
        ];
        for (method, path, expected) in cases {
            assert_eq!(XapiRoute::parse(method, path), Ok(expected), "{path}");
        }
    }

    #[test]
    fn call_log_parameters_are_read_in_any_order_with_quotes_and_nulls() {
        let path = "/ReportCallLogData/Pbx.GetCallLogData(periodTo=2026-11-23T09:00:00Z,periodFrom=2026-11-23T08:00:00Z,sourceType=0,sourceFilter='O''Brien, a/b',destinationType=0,destinationFilter=null,callsType=1,callTimeFilterType=0,callTimeFilterFrom=null,callTimeFilterTo=null,hidePcalls=true)";
        let Ok(XapiRoute::CallLog(params)) = XapiRoute::parse("GET", path) else { panic!("not a call log route") };
        assert_eq!(params.source_filter.as_deref(), Some("O'Brien, a/b"));
        assert_eq!((params.period_from, params.period_to), (at("2026-11-23T08:00:00Z"), at("2026-11-23T09:00:00Z")));
        assert_eq!((params.calls_type, params.destination_filter, params.hide_pcalls), (1, None, true));
    }

    #[test]
    fn bad_paths_are_refused_with_the_right_status() {
        let cases = [
            ("GET", "/Nothing", 404),
            ("GET", "/Queues(3)/Groups", 404),
            ("GET", "/Queues('x')", 400),
            ("GET", "/Queues(99999999999)", 400),
            ("POST", "/Queues", 405),
            ("GET", "/ActiveCalls(1)/Pbx.DropCall", 405),
            ("GET", "/ReportStatisticSla/Pbx.GetStatisticSlaData(queueDnStr=null)", 400),
            (
                "GET",
                "/ReportStatisticSla/Pbx.GetStatisticSlaData(queueDnStr=null,startDt='x',endDt=2026-01-01,waitInterval=null)",
                400,
            ),
            ("GET", "/ReportStatisticSla/Pbx.GetNothing(a=1)", 404),
        ];
        for (method, path, status) in cases {
            assert_eq!(XapiRoute::parse(method, path).map_err(|e| e.status), Err(status), "{method} {path}");
        }
    }
}
