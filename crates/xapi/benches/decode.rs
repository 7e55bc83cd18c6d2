//! Decoding XAPI pages into the generated types: the client's decode path (`decode_body`, what
//! `get_collection` runs on a 2xx body) against plain `serde_json::from_slice` into the same
//! types. Pages are built in the wire format (PascalCase OData JSON) as 3CX sends them.
//!
//! `cargo bench -p lineup-xapi --bench decode`

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lineup_xapi::generated::{ActiveCall, CallHistoryView};
use lineup_xapi::{decode_body, ODataPage};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

const STATUSES: [&str; 3] = ["Routing", "Talking", "Transferring"];

fn page(context: &str, rows: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({"@odata.context": context, "@odata.count": rows.len(), "value": rows})).unwrap()
}

/// 1,000 active calls, as `GET /ActiveCalls` answers them.
fn active_calls() -> Vec<u8> {
    let rows = (0..1_000)
        .map(|i| {
            json!({
                "Id": 100_000 + i,
                "Caller": format!("+44 20 7946 {:04} (Caller {i})", i % 10_000),
                "Callee": format!("8{:03} Support Queue", i % 50),
                "Status": STATUSES[i % 3],
                "LastChangeStatus": "2026-11-23T10:00:05.123Z",
                "EstablishedAt": "2026-11-23T09:58:41Z",
                "ServerNow": "2026-11-23T10:00:07.456Z",
            })
        })
        .collect();
    page("https://pbx/xapi/v1/$metadata#ActiveCalls", rows)
}

/// 10,000 call history segments, as `GET /CallHistoryView` answers them.
fn call_history() -> Vec<u8> {
    let rows = (0..10_000)
        .map(|i| {
            json!({
                "SegmentId": 5_000_000 + i,
                "SegmentStartTime": "2026-11-23T09:12:03.25Z",
                "SegmentEndTime": "2026-11-23T09:15:44.5Z",
                "SegmentType": i % 3,
                "SegmentActionId": i % 12,
                "SrcId": i,
                "SrcParticipantId": 2 * i,
                "SrcRecId": i % 7,
                "SrcDn": format!("{}", 10_000 + i % 900),
                "SrcDnType": 13,
                "SrcCallerNumber": format!("+4420794{:05}", i),
                "SrcDisplayName": format!("Caller {i}"),
                "SrcExtendedDisplayName": format!("Caller {i} (+4420794{:05})", i),
                "SrcInternal": false,
                "SrcExternal": true,
                "DstId": i + 1,
                "DstParticipantId": 2 * i + 1,
                "DstRecId": i % 5,
                "DstDn": format!("{}", 100 + i % 40),
                "DstDnType": 0,
                "DstCallerNumber": format!("{}", 100 + i % 40),
                "DstDisplayName": format!("Agent {}", i % 40),
                "DstExtendedDisplayName": format!("Agent {} ({})", i % 40, 100 + i % 40),
                "DstInternal": true,
                "DstExternal": false,
                "CallAnswered": i % 4 != 0,
                "CallTime": "PT3M41.25S",
            })
        })
        .collect();
    page("https://pbx/xapi/v1/$metadata#CallHistoryView", rows)
}

fn compare<T: DeserializeOwned>(criterion: &mut Criterion, name: &str, body: &[u8], rows: usize) {
    let check: ODataPage<T> = decode_body(body).unwrap();
    assert_eq!(check.value.len(), rows);
    let mut group = criterion.benchmark_group(name);
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_with_input(BenchmarkId::new("client_decode_body", rows), body, |bench, body| {
        bench.iter(|| decode_body::<ODataPage<T>>(black_box(body)).unwrap())
    });
    group.bench_with_input(BenchmarkId::new("serde_json_from_slice", rows), body, |bench, body| {
        bench.iter(|| serde_json::from_slice::<ODataPage<T>>(black_box(body)).unwrap())
    });
    group.finish();
}

fn decode(criterion: &mut Criterion) {
    compare::<ActiveCall>(criterion, "active_calls_page", &active_calls(), 1_000);
    compare::<CallHistoryView>(criterion, "call_history_view_page", &call_history(), 10_000);
}

criterion_group!(benches, decode);
criterion_main!(benches);
