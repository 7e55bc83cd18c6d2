//! `xapi-gen`: regenerates `crates/xapi/src/generated/` from 3CX's document, or (`--check`)
//! reports whether the committed files differ from what the document gives.
//!
//! Usage: `cargo run -p lineup-xapi-gen -- [--check] [--spec PATH]`. The document is `--spec`,
//! else `$LINEUP_XAPI_SPEC`, else `../shared/xapi-spec/swagger.yaml` from the repository root.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use lineup_xapi_gen::{paths, Operations, Overlay};

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("xapi-gen: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let root = paths::repo_root();
    let mut check = false;
    let mut spec = paths::spec_path(&root);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--spec" => spec = PathBuf::from(args.next().context("--spec needs a path")?),
            "-h" | "--help" => {
                println!("usage: xapi-gen [--check] [--spec PATH]  (default spec: ${})", paths::SPEC_ENV);
                return Ok(ExitCode::SUCCESS);
            }
            other => bail!("unknown argument {other} (try --help)"),
        }
    }
    let read = |path: &PathBuf| std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()));
    let spec_text = read(&spec).context("3CX's document is needed to generate (see xapi-spec/README.md)")?;
    let operations = Operations::from_toml(&read(&paths::operations_path(&root))?)?;
    let overlay = Overlay::from_yaml(&read(&paths::overlay_path(&root))?)?;
    let files = lineup_xapi_gen::generate(&spec_text, &operations, &overlay)?;

    let dir = paths::generated_dir(&root);
    let mut drifted = Vec::new();
    for file in &files.files {
        let target = dir.join(&file.path);
        let current = std::fs::read_to_string(&target).ok();
        if current.as_deref() == Some(file.contents.as_str()) {
            continue;
        }
        if check {
            drifted.push(file.path.clone());
        } else {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            std::fs::write(&target, &file.contents).with_context(|| format!("writing {}", target.display()))?;
            println!("wrote {}", target.display());
        }
    }
    if check && !drifted.is_empty() {
        eprintln!("generated files differ from {}: {}", spec.display(), drifted.join(", "));
        eprintln!("run `cargo run -p lineup-xapi-gen` to regenerate them");
        return Ok(ExitCode::FAILURE);
    }
    if check {
        println!("generated files match {}", spec.display());
    }
    Ok(ExitCode::SUCCESS)
}
