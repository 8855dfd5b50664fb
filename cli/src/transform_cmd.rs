//! `multimem transform IN -o OUT`

use std::path::PathBuf;

use anyhow::{Context, Result};
use multimem_transform::find_allocator::{self, Role};
use multimem_transform::{Form, Import, Options, Route, StoreAnchor};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The module to transform.
    pub input: PathBuf,
    /// Where to write the transformed module.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Split address: pointers at or above it address memory 1. A multiple of 64 KiB.
    #[arg(long, default_value = "0x80000000", value_parser = parse_address)]
    pub split: u64,
    /// Run binaryen afterwards at this level (0-4, s, z). Without it no binaryen pass runs.
    #[arg(long = "opt", short = 'O', value_name = "LEVEL")]
    pub opt: Option<String>,
    /// `portable` (accesses dispatch on the pointer's tag; any engine) or `view`
    /// (no dispatch; needs a host that maps memory 0 into memory 1, such as `multimem prove --strategy view`).
    #[arg(long, default_value = "portable")]
    pub form: Form,
    /// Where stores keep their value during dispatch: `global` (the default: fastest, per instance so per thread) or `local`.
    #[arg(long, value_parser = parse_anchor)]
    pub store_anchor: Option<StoreAnchor>,
    /// Count executed memory-0 accesses (dispatched, direct) in exported globals
    /// `multimem.count.dispatched` and `multimem.count.direct`; for measuring only.
    #[arg(long)]
    pub count_accesses: bool,
    /// Do not version functions and loops on their pointers' tags: a smaller
    /// module whose proofs are slower (portable form).
    #[arg(long)]
    pub no_version: bool,
    /// Import memory 0 from a host that keeps it across instances (a defined
    /// one as `multimem.persistent_memory`, or `=MODULE.NAME`); its data and
    /// start function then run once, through the export `multimem.init_persistent`.
    #[arg(long, value_name = "MODULE.NAME", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub import_persistent: Option<String>,
    /// Import memory 1 instead of defining it, so the host hands each proof a
    /// fresh one (default: `ephemeral_memory` next to memory 0's import, or `=MODULE.NAME`).
    #[arg(long, value_name = "MODULE.NAME", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub import_ephemeral: Option<String>,
    /// Do not route the module's allocator to memory 1 (then only a guest
    /// that links the multimem SDK allocates in memory 1 during proofs).
    #[arg(long, conflicts_with = "allocator")]
    pub no_route: bool,
    /// Name the allocator's entry points by hand, for stripped modules:
    /// ROLE=FUNC,... with FUNC a function name, export or index, and ROLE one of
    /// __rust_alloc, __rust_alloc_zeroed, __rust_dealloc, __rust_realloc, malloc,
    /// calloc, free, realloc, posix_memalign, aligned_alloc, memalign,
    /// malloc_usable_size, dlmalloc.malloc, dlmalloc.free, dlmalloc.realloc, dlmalloc.memalign.
    #[arg(long, value_name = "ROLE=FUNC,...", value_parser = find_allocator::parse_manual)]
    pub allocator: Option<Vec<(Role, String)>>,
    /// Record every store of a proof-time (memory 1) pointer into memory 0
    /// outside the stack, with the function that made it (`multimem prove` reports them).
    #[arg(long)]
    pub check_escapes: bool,
    /// Print what was rewritten as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

fn parse_address(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => s.replace('_', "").parse(),
    };
    parsed.map_err(|e| format!("{s:?} is not an address: {e}"))
}

fn parse_anchor(s: &str) -> Result<StoreAnchor, String> {
    match s {
        "local" => Ok(StoreAnchor::Local),
        "global" => Ok(StoreAnchor::Global),
        _ => Err(format!("{s:?}: expected `local` or `global`")),
    }
}

fn parse_import(flag: &str, value: &Option<String>) -> Result<Option<Import>> {
    match value.as_deref() {
        None => Ok(None),
        Some("") => Ok(Some(Import::Default)),
        Some(name) => name.parse().map(Some).map_err(|e| anyhow::anyhow!("{flag}: {e}")),
    }
}

pub fn run(args: &Args) -> Result<()> {
    let split = multimem_transform::check_split(args.split)?;
    let import_persistent = parse_import("--import-persistent", &args.import_persistent)?;
    let import_ephemeral = parse_import("--import-ephemeral", &args.import_ephemeral)?;
    let wasm = std::fs::read(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let options = Options {
        split,
        form: args.form,
        store_anchor: args.store_anchor,
        opt: args.opt.clone(),
        count_accesses: args.count_accesses,
        version: !args.no_version,
        import_persistent,
        import_ephemeral,
        // The view form has no room for the routed heap: routing is for the portable form.
        route: if args.no_route || args.form == Form::View { Route::Off } else { Route::On },
        allocator: args.allocator.clone().unwrap_or_default(),
        check_escapes: args.check_escapes,
    };
    let (out, report) =
        multimem_transform::transform_with_report(&wasm, &options).with_context(|| format!("{}", args.input.display()))?;
    write_whole(&args.output, &out)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

/// Writes through a temporary file and a rename, only after validation: a
/// failure (or a full disk) never leaves a partial output behind.
pub fn write_whole(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".multimem-partial");
    let partial = PathBuf::from(partial);
    let result = std::fs::write(&partial, bytes).and_then(|()| std::fs::rename(&partial, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result.with_context(|| format!("writing {}", path.display()))
}
