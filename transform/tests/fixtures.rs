//! `.wat` fixtures: each file holds an input module and, in a trailing
//! `(; CHECK-ALL: ... ;)` block, the expected transformed module as printed by
//! wasmprinter. `BLESS=1 cargo test -p multimem-transform --test fixtures`
//! rewrites the expected blocks. A fixture may start with `;; split=0x...` and
//! `;; anchor=local|global`, `;; form=portable|view`, `;; import-persistent[=M.N]`
//! and `;; import-ephemeral[=M.N]`. A fixture whose block is `(; ERROR: ... ;)`
//! expects the transform to fail with that message.

use std::path::Path;

use multimem_transform::{Import, Options, StoreAnchor};

const CHECK: &str = "(; CHECK-ALL:";
const ERROR: &str = "(; ERROR:";

fn options(source: &str) -> Options {
    let mut options = Options::default();
    for line in source.lines().take_while(|l| l.starts_with(";;")) {
        if let Some(split) = line.strip_prefix(";; split=0x") {
            options.split = u32::from_str_radix(split.trim(), 16).unwrap();
        }
        if let Some(form) = line.strip_prefix(";; form=") {
            options.form = form.trim().parse().unwrap();
        }
        let import = |rest: &str| match rest.trim().strip_prefix('=') {
            Some(name) => name.parse::<Import>().unwrap(),
            None => Import::Default,
        };
        if let Some(rest) = line.strip_prefix(";; import-persistent") {
            options.import_persistent = Some(import(rest));
        }
        if let Some(rest) = line.strip_prefix(";; import-ephemeral") {
            options.import_ephemeral = Some(import(rest));
        }
        if let Some(anchor) = line.strip_prefix(";; anchor=") {
            options.store_anchor = Some(if anchor.trim() == "local" { StoreAnchor::Local } else { StoreAnchor::Global });
        }
    }
    options
}

fn run_fixture(path: &Path) -> Result<(), String> {
    let source = std::fs::read_to_string(path).unwrap();
    let cut = [source.find(CHECK), source.find(ERROR)].into_iter().flatten().min().unwrap_or(source.len());
    let input = &source[..cut];
    let wasm = wat::parse_str(input).map_err(|e| format!("fixture does not parse: {e}"))?;
    let actual = match multimem_transform::transform(&wasm, &options(input)) {
        Ok(out) => format!("{CHECK}\n{}\n;)\n", wasmprinter::print_bytes(&out).unwrap().trim_end()),
        Err(e) => format!("{ERROR} {} ;)\n", format!("{e:#}").replace('\n', " ")),
    };
    let expected = &source[cut..];
    if expected == actual {
        return Ok(());
    }
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(path, format!("{input}{actual}")).unwrap();
        return Ok(());
    }
    Err(format!("{}: expected\n{expected}\nactual\n{actual}", path.display()))
}

#[test]
fn fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut paths: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.retain(|p| p.extension().is_some_and(|e| e == "wat"));
    paths.sort();
    assert!(!paths.is_empty());
    let failures: Vec<String> = paths.iter().filter_map(|p| run_fixture(p).err()).collect();
    assert!(failures.is_empty(), "{} fixture(s) differ (BLESS=1 to update):\n{}", failures.len(), failures.join("\n"));
}
