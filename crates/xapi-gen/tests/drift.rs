//! The committed generated code equals what the generator makes of 3CX's document. Skipped (with
//! a message) when the document is absent; CI has it.

use lineup_xapi_gen::{paths, Operations, Overlay};

#[test]
fn committed_generated_code_matches_the_document() {
    let root = paths::repo_root();
    let spec = paths::spec_path(&root);
    let Ok(spec_text) = std::fs::read_to_string(&spec) else {
        println!("skipped: 3CX's document is not at {} (set {} to check drift)", spec.display(), paths::SPEC_ENV);
        return;
    };
    let operations = Operations::from_toml(&std::fs::read_to_string(paths::operations_path(&root)).unwrap()).unwrap();
    let overlay = Overlay::from_yaml(&std::fs::read_to_string(paths::overlay_path(&root)).unwrap()).unwrap();
    let files = lineup_xapi_gen::generate(&spec_text, &operations, &overlay).unwrap();

    let dir = paths::generated_dir(&root);
    let mut drifted = Vec::new();
    for file in &files.files {
        let committed = std::fs::read_to_string(dir.join(&file.path)).unwrap_or_default();
        if committed != file.contents {
            drifted.push(file.path.clone());
        }
    }
    let mut stale: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| files.get(name).is_none())
        .collect();
    stale.sort();
    assert!(
        drifted.is_empty() && stale.is_empty(),
        "crates/xapi/src/generated differs from {} (changed: {drifted:?}, not generated: {stale:?}); \
         run `cargo run -p lineup-xapi-gen`",
        spec.display()
    );
}
