//! Calls, errors and latencies reach the `metrics` facade under the documented names and labels.
//! One test per binary: it installs the process-wide recorder.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::{list, ok_page, Pbx};
use lineup_xapi::Query;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

/// Sums per `name{label=value,...}`: counters add, histograms count their samples.
#[derive(Default, Clone)]
struct Tally(Arc<Mutex<BTreeMap<String, f64>>>);

struct Cell {
    tally: Tally,
    key: String,
}

impl metrics::CounterFn for Cell {
    fn increment(&self, value: u64) {
        *self.tally.0.lock().unwrap().entry(self.key.clone()).or_default() += value as f64;
    }
    fn absolute(&self, value: u64) {
        self.tally.0.lock().unwrap().insert(self.key.clone(), value as f64);
    }
}

impl metrics::HistogramFn for Cell {
    fn record(&self, _value: f64) {
        *self.tally.0.lock().unwrap().entry(self.key.clone()).or_default() += 1.0;
    }
}

impl Tally {
    fn cell(&self, key: &Key) -> Arc<Cell> {
        let labels: Vec<String> = key.labels().map(|label| format!("{}={}", label.key(), label.value())).collect();
        Arc::new(Cell { tally: self.clone(), key: format!("{}{{{}}}", key.name(), labels.join(",")) })
    }

    fn get(&self, key: &str) -> f64 {
        self.0.lock().unwrap().get(key).copied().unwrap_or_default()
    }
}

impl Recorder for Tally {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.cell(key))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.cell(key))
    }
}

#[tokio::test]
async fn attempts_errors_retries_and_latency_are_recorded_by_operation() {
    let tally = Tally::default();
    metrics::set_global_recorder(tally.clone()).unwrap();
    lineup_xapi::metrics::describe();
    let pbx = Pbx::start(3600).await;
    Mock::given(method("GET"))
        .and(path("/xapi/v1/Users"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&pbx.server)
        .await;
    Mock::given(method("GET")).and(path("/xapi/v1/Users")).respond_with(ok_page(vec![])).mount(&pbx.server).await;
    let client = pbx.client();

    list(&client, "/Users", &Query::new()).await.unwrap();

    assert_eq!(tally.get("xapi_requests_total{operation=Test.List}"), 2.0);
    assert_eq!(tally.get("xapi_errors_total{operation=Test.List,kind=unavailable}"), 1.0);
    assert_eq!(tally.get("xapi_retries_total{operation=Test.List}"), 1.0);
    assert_eq!(tally.get("xapi_request_duration_seconds{operation=Test.List}"), 2.0);
    assert_eq!(tally.get("xapi_token_requests_total{outcome=ok}"), 1.0);
}
