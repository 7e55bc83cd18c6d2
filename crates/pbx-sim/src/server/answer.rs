//! Answers one XAPI request from the model: the rows of a collection (after the OData query
//! options), one entity, or an action's effect. Synchronous and free of HTTP: the handler in
//! `xapi` calls it on a blocking thread and renders the result.

use serde_json::{Map, Value};

use super::error::ODataFailure;
use super::literal::{parse_duration, split_outside_quotes};
use super::reports::{self, ReportInput};
use super::route::{CallLogParams, EntityKey, ReportKind, XapiRoute};
use super::state::SimState;
use super::wire;
use crate::model::{CallRecord, QueueSnapshot, Simulation};
use crate::odata::QueryOptions;

/// A navigation property to expand, with its own query options (`Agents($top=5;$select=Name)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Expand {
    /// `Agents` or `Managers`.
    pub property: String,
    /// The nested options.
    pub options: QueryOptions,
}

/// A parsed XAPI request: the route and its query options.
#[derive(Debug, Clone, PartialEq)]
pub struct XapiRequest {
    /// What is asked for.
    pub route: XapiRoute,
    /// `$filter`, `$orderby`, `$select`, `$top`, `$skip`, `$count`.
    pub options: QueryOptions,
    /// `$expand` (only `Agents` and `Managers` of queues).
    pub expand: Vec<Expand>,
}

impl XapiRequest {
    /// Parses the route (`path` below `/xapi/v1`, percent-decoded) and the decoded query pairs.
    pub fn parse(method: &str, path: &str, pairs: &[(String, String)]) -> Result<XapiRequest, ODataFailure> {
        let route = XapiRoute::parse(method, path)?;
        let options =
            QueryOptions::parse(pairs.iter().filter(|(k, _)| k != "$expand").map(|(k, v)| (k.as_str(), v.as_str())))?;
        let mut expand = Vec::new();
        for (_, value) in pairs.iter().filter(|(k, _)| k == "$expand") {
            expand.extend(parse_expand(value)?);
        }
        let expandable = matches!(route, XapiRoute::Queues | XapiRoute::Queue(_));
        if let Some(e) = expand.iter().find(|e| !expandable || !["Agents", "Managers"].contains(&e.property.as_str())) {
            return Err(ODataFailure::bad_request(format!("'{}' cannot be expanded here", e.property)));
        }
        Ok(XapiRequest { route, options, expand })
    }
}

/// `Agents,Managers($select=Name;$top=2)` as expand items.
fn parse_expand(value: &str) -> Result<Vec<Expand>, ODataFailure> {
    let mut items = Vec::new();
    for item in split_outside_quotes(value, ',').into_iter().map(str::trim).filter(|i| !i.is_empty()) {
        let (property, nested) = match item.find('(') {
            Some(open) => {
                let inner = item[open + 1..]
                    .strip_suffix(')')
                    .ok_or_else(|| ODataFailure::bad_request(format!("bad $expand item '{item}'")))?;
                (&item[..open], inner)
            }
            None => (item, ""),
        };
        let pairs: Vec<(&str, &str)> = split_outside_quotes(nested, ';')
            .into_iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, "")))
            .collect();
        items.push(Expand { property: property.trim().to_string(), options: QueryOptions::parse(pairs)? });
    }
    Ok(items)
}

/// What a request is answered with.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A page of a collection: `@odata.context`, `@odata.count` when asked, `value`.
    Collection {
        /// The `@odata.context` fragment after `$metadata#`.
        context: String,
        /// The page's rows.
        rows: Vec<Value>,
        /// The number of rows matching the filter, on `$count=true`.
        count: Option<usize>,
    },
    /// One entity, with `@odata.context`.
    Entity {
        /// The `@odata.context` fragment after `$metadata#`.
        context: String,
        /// The entity's properties.
        body: Map<String, Value>,
    },
    /// An action that succeeded (answered `{}`).
    Action,
}

impl SimState {
    /// Answers `request` at the current simulated time.
    pub fn answer(&self, request: &XapiRequest) -> Result<Answer, ODataFailure> {
        let mut sim = self.current();
        match request.route {
            XapiRoute::DropCall { id } if sim.drop_call(id) => Ok(Answer::Action),
            XapiRoute::DropCall { id } => Err(ODataFailure::not_found(format!("no active call {id}"))),
            _ => self.read(&sim, request),
        }
    }

    /// Answers a request that only reads the model.
    fn read(&self, sim: &Simulation, request: &XapiRequest) -> Result<Answer, ODataFailure> {
        let collection = |context: String, rows: Vec<Value>| Ok(self.page(sim, request, context, rows));
        match &request.route {
            XapiRoute::ActiveCalls => {
                let now = sim.now();
                let rows = sim.live_calls().iter().map(|c| json(wire::active_call(c, now))).collect();
                collection("ActiveCalls".into(), rows)
            }
            XapiRoute::DropCall { .. } => Err(ODataFailure::internal("DropCall is an action")),
            XapiRoute::CallHistory => {
                let mut rows: Vec<_> =
                    self.visible(sim).iter().flat_map(|r| wire::history_rows(r, self.directory())).collect();
                rows.sort_by_key(|r| r.segment_id);
                collection("CallHistoryView".into(), rows.into_iter().map(json).collect())
            }
            XapiRoute::CallLog(params) => {
                let mut records: Vec<&CallRecord> =
                    self.visible(sim).iter().filter(|r| call_log_matches(r, params)).collect();
                records.sort_by_key(|r| r.call_id);
                let rows = records.into_iter().flat_map(wire::call_log_rows).map(json).collect();
                collection("Collection(Pbx.CallLogData)".into(), rows)
            }
            XapiRoute::Queues => {
                let rows = sim.queue_snapshots().iter().map(|q| json(wire::queue(q, self.directory()))).collect();
                collection("Queues".into(), rows)
            }
            XapiRoute::Queue(key) => {
                let queue = find_queue(sim, key, self)?;
                Ok(self.entity(sim, request, "Queues/$entity", json(wire::queue(&queue, self.directory()))))
            }
            XapiRoute::QueueAgents(id) => {
                let queue = find_queue(sim, &EntityKey::Id(*id), self)?;
                collection(format!("Queues({id})/Agents"), navigation(sim, self, &queue, Navigation::Agents))
            }
            XapiRoute::QueueManagers(id) => {
                let queue = find_queue(sim, &EntityKey::Id(*id), self)?;
                collection(format!("Queues({id})/Managers"), navigation(sim, self, &queue, Navigation::Managers))
            }
            XapiRoute::Users => {
                let rows = sim.agent_snapshots().iter().map(|a| json(wire::user(a, self.directory()))).collect();
                collection("Users".into(), rows)
            }
            XapiRoute::User(key) => {
                let agents = sim.agent_snapshots();
                let agent = agents
                    .iter()
                    .find(|a| match key {
                        EntityKey::Id(id) => self.directory().id(&a.dn) == *id,
                        EntityKey::Number(n) => &a.dn == n,
                    })
                    .ok_or_else(|| ODataFailure::not_found(format!("no user {key:?}")))?;
                Ok(self.entity(sim, request, "Users/$entity", json(wire::user(agent, self.directory()))))
            }
            XapiRoute::Report(kind, params) => {
                let now = sim.now();
                let cutoff = self.history_cutoff(now);
                let truths = sim.call_truths();
                let visible_truths = &truths[..truths.partition_point(|t| t.ended_at <= cutoff)];
                let agents = sim.agent_snapshots();
                let status_log = if *kind == ReportKind::AgentsInQueue { sim.agent_status_log() } else { Vec::new() };
                let input = ReportInput {
                    config: sim.config(),
                    truths: visible_truths,
                    records: sim.finished_calls_until(cutoff),
                    agents: &agents,
                    status_log: &status_log,
                    now,
                };
                let rows = reports::report(*kind, params, &input).map_err(|e| ODataFailure::bad_request(e.0))?;
                collection(format!("Collection({})", reports::row_type(*kind)), rows)
            }
        }
    }

    /// The finished calls the history shows now.
    fn visible<'s>(&self, sim: &'s Simulation) -> &'s [CallRecord] {
        sim.finished_calls_until(self.history_cutoff(sim.now()))
    }

    /// Applies the query options (and expansions) to `rows`.
    fn page(&self, sim: &Simulation, request: &XapiRequest, context: String, rows: Vec<Value>) -> Answer {
        let unselected = QueryOptions { select: None, ..request.options.clone() };
        let (page, count) = unselected.apply(rows);
        let rows = page.into_iter().map(|row| self.shape(sim, request, row)).collect();
        Answer::Collection { context, rows, count }
    }

    fn entity(&self, sim: &Simulation, request: &XapiRequest, context: &str, row: Value) -> Answer {
        match self.shape(sim, request, row) {
            Value::Object(body) => Answer::Entity { context: context.to_string(), body },
            _ => Answer::Entity { context: context.to_string(), body: Map::new() },
        }
    }

    /// Adds the expanded navigation properties to a queue row, then applies `$select` (which
    /// keeps the expanded properties).
    fn shape(&self, sim: &Simulation, request: &XapiRequest, mut row: Value) -> Value {
        if !request.expand.is_empty() {
            let id = row.get("Id").and_then(Value::as_i64).and_then(|id| i32::try_from(id).ok());
            let queue = id.and_then(|id| find_queue(sim, &EntityKey::Id(id), self).ok());
            if let (Some(queue), Value::Object(map)) = (queue, &mut row) {
                for e in &request.expand {
                    let property = if e.property == "Agents" { Navigation::Agents } else { Navigation::Managers };
                    let (page, _) = e.options.apply(navigation(sim, self, &queue, property));
                    map.insert(e.property.clone(), Value::Array(page));
                }
            }
        }
        match (&request.options.select, row) {
            (Some(fields), Value::Object(map)) => Value::Object(
                map.into_iter()
                    .filter(|(k, _)| {
                        k.starts_with('@')
                            || fields.iter().any(|f| f == k || f == "*")
                            || request.expand.iter().any(|e| &e.property == k)
                    })
                    .collect(),
            ),
            (_, row) => row,
        }
    }
}

/// A queue's navigation properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Navigation {
    Agents,
    Managers,
}

/// The agents or managers of `queue` as JSON rows.
fn navigation(sim: &Simulation, state: &SimState, queue: &QueueSnapshot, property: Navigation) -> Vec<Value> {
    let agents = sim.agent_snapshots();
    match property {
        Navigation::Agents => wire::queue_agents(queue, &agents, state.directory()).into_iter().map(json).collect(),
        Navigation::Managers => wire::queue_managers(queue, &agents, state.directory()).into_iter().map(json).collect(),
    }
}

fn find_queue(sim: &Simulation, key: &EntityKey, state: &SimState) -> Result<QueueSnapshot, ODataFailure> {
    let queues = sim.queue_snapshots();
    let found = match key {
        EntityKey::Id(id) => state.directory().queue_index(*id).and_then(|i| queues.get(i)),
        EntityKey::Number(number) => queues.iter().find(|q| &q.dn == number),
    };
    found.cloned().ok_or_else(|| ODataFailure::not_found(format!("no queue {key:?}")))
}

fn json<T: serde::Serialize>(row: T) -> Value {
    serde_json::to_value(row).unwrap_or(Value::Null)
}

/// Whether a finished call is in the call log asked for (see [`CallLogParams`]).
fn call_log_matches(record: &CallRecord, params: &CallLogParams) -> bool {
    if record.arrived_at < params.period_from || record.arrived_at >= params.period_to {
        return false;
    }
    let given = |f: &Option<String>| f.as_deref().map(str::trim).filter(|f| !f.is_empty()).map(str::to_string);
    if let Some(source) = given(&params.source_filter) {
        let caller = record.segments.first().map(|s| (&s.source.dn, &s.source.number));
        if !caller.is_some_and(|(dn, number)| dn.contains(&source) || number.contains(&source)) {
            return false;
        }
    }
    if let Some(destination) = given(&params.destination_filter) {
        if !record.segments.iter().any(|s| s.destination.dn.contains(&destination)) {
            return false;
        }
    }
    let answered = record.agent_dn.is_some();
    let wanted = match params.calls_type {
        1 => answered,
        2 => !answered,
        _ => true,
    };
    if !wanted {
        return false;
    }
    if params.call_time_filter_type != 0 {
        let talk_ms: i64 = record.segments.iter().map(|s| s.talking_ms).sum();
        let bound = |b: &Option<String>| b.as_deref().and_then(parse_duration).map(|d| d.num_milliseconds());
        let (low, high) = (bound(&params.call_time_filter_from), bound(&params.call_time_filter_to));
        if low.is_some_and(|l| talk_ms < l) || high.is_some_and(|h| talk_ms > h) {
            return false;
        }
    }
    true
}
