//! The committed `docs/openapi.json` and `dashboard/src/api/types.ts` equal what the code
//! generates. Refresh both with `LINEUP_UPDATE_SNAPSHOTS=1 cargo test -p lineup-api`.

use std::path::PathBuf;

fn check_snapshot(relative: &str, generated: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative);
    if std::env::var_os("LINEUP_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{relative} differs from what the code generates; run `LINEUP_UPDATE_SNAPSHOTS=1 cargo test -p lineup-api` \
         and commit the result"
    );
}

#[test]
fn the_committed_openapi_document_matches_the_code() {
    check_snapshot("docs/openapi.json", &format!("{}\n", lineup_api::openapi::openapi_json()));
}

#[test]
fn the_committed_typescript_types_match_the_openapi_document() {
    check_snapshot("dashboard/src/api/types.ts", &lineup_api::ts::typescript(&lineup_api::openapi()));
}

#[test]
fn the_document_is_openapi_3_1() {
    let doc: serde_json::Value = serde_json::from_str(lineup_api::openapi::openapi_json()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
}

#[test]
fn every_problem_type_is_documented_in_api_md() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/API.md");
    let doc = std::fs::read_to_string(path).unwrap();
    for kind in lineup_api::ProblemKind::ALL {
        let row = format!("| `{}` | {} |", kind.slug, kind.status);
        assert!(doc.contains(&row), "docs/API.md lacks the problem row starting {row}");
    }
}

#[test]
fn the_role_matrix_in_security_md_matches_the_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/SECURITY.md");
    let doc = std::fs::read_to_string(&path).expect("docs/SECURITY.md");
    let (begin, end) = (lineup_api::security_doc::BEGIN, lineup_api::security_doc::END);
    let start = doc.find(begin).expect("docs/SECURITY.md has the generated block's BEGIN marker");
    let stop = doc.find(end).expect("docs/SECURITY.md has the generated block's END marker") + end.len();
    let generated = lineup_api::security_doc::role_tables();
    if std::env::var_os("LINEUP_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, format!("{}{generated}{}", &doc[..start], &doc[stop..])).unwrap();
        return;
    }
    assert!(
        doc[start..stop] == generated,
        "the role matrix in docs/SECURITY.md differs from the code; run `LINEUP_UPDATE_SNAPSHOTS=1 cargo test -p \
         lineup-api` and commit the result"
    );
}
