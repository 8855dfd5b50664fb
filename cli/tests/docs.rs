//! The documentation says what the code does: the README's example is the
//! program the test command runs, `docs/cli.md` is `multimem --help`, and
//! nothing a user reads points outside the repository.
//!
//! `BLESS=1 cargo test -p multimem --test docs` rewrites `docs/cli.md`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_readme_example_is_the_example_that_runs() {
    let example = read("cli/examples/prove.rs");
    assert!(example.lines().count() <= 20, "the README promises an example of at most 20 lines");
    let block = format!("```rust\n{example}```");
    assert!(read("README.md").contains(&block), "README.md must show cli/examples/prove.rs verbatim in a ```rust block");
}

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_multimem")).args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "{args:?} --help: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `docs/cli.md` as `--help` makes it.
fn cli_reference() -> String {
    let mut md = String::from(
        "# The `multimem` command line\n\n\
         Generated from `multimem --help` (`BLESS=1 cargo test -p multimem --test docs` regenerates it;\n\
         the test fails when it differs). `multimem` with no subcommand runs the demo (the README's main\n\
         command). Errors are one line on stderr and a non-zero exit code.\n",
    );
    for sub in ["", "transform", "inspect", "compile", "prove", "bench"] {
        let args: Vec<&str> = [sub].into_iter().filter(|s| !s.is_empty()).collect();
        md += &format!("\n## `multimem{}{sub}`\n\n```text\n{}```\n", if sub.is_empty() { "" } else { " " }, help(&args));
    }
    md
}

#[test]
fn the_command_line_reference_matches_help() {
    let generated = cli_reference();
    let path = root().join("docs/cli.md");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(written == generated, "docs/cli.md differs from `multimem --help`: run BLESS=1 cargo test -p multimem --test docs");
}

#[test]
fn nothing_a_user_reads_points_outside_the_repository() {
    let mut files = vec![root().join("README.md")];
    // Helpers' working notes (`docs/notes-*.md`) are the lead's to integrate, not a user's to read.
    let docs = std::fs::read_dir(root().join("docs")).unwrap().map(|e| e.unwrap().path());
    files.extend(docs.filter(|p| p.extension().is_some_and(|e| e == "md") && !p.file_name().unwrap().to_string_lossy().starts_with("notes-")));
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            // Spelt in two pieces, so that this file is not a hit for the same search.
            let outside = [concat!("..", "/shared"), concat!("DESIGN", ".md")];
            assert!(!outside.iter().any(|o| line.contains(o)), "{}:{}: {line}", file.display(), n + 1);
        }
    }
}
