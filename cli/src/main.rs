//! `multimem`: transform, inspect and run provers with a per-proof ephemeral memory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

// walrus allocates per instruction from several rayon threads; glibc's arenas contend.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "multimem", version, about = "Give a WebAssembly prover back the memory of each proof")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Rewrite a single-memory module into the persistent/ephemeral two-memory form.
    Transform(multimem::transform_cmd::Args),
    /// Describe a module: memories, features, memory instructions, and whether it can be transformed.
    Inspect {
        input: PathBuf,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Compile a prover ahead of time for one strategy (transforming it first if the strategy needs it):
    /// `prove --precompiled` and `Prover::load_precompiled` map it instead of compiling.
    #[cfg(feature = "prove")]
    Compile(multimem::compile_cmd::Args),
    /// Run a guest prover (the reference Groth16 unless `--guest`) under a strategy and report memory per proof.
    #[cfg(feature = "prove")]
    Prove(multimem::prove_cmd::Args),
    /// Compare strategies side by side on a guest prover: proof time, reset cost, memory.
    #[cfg(feature = "prove")]
    Bench(multimem::bench_cmd::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Some(Command::Transform(args)) => multimem::transform_cmd::run(&args),
        Some(Command::Inspect { input, json }) => inspect(&input, json),
        #[cfg(feature = "prove")]
        Some(Command::Compile(args)) => multimem::compile_cmd::run(&args),
        #[cfg(feature = "prove")]
        Some(Command::Prove(args)) => multimem::prove_cmd::run(&args),
        #[cfg(feature = "prove")]
        Some(Command::Bench(args)) => match args.soak {
            Some(proofs) => multimem::soak::run(&args, proofs),
            None => multimem::bench_cmd::run(&args),
        },
        #[cfg(feature = "prove")]
        None => multimem::prove_cmd::demo(),
        #[cfg(not(feature = "prove"))]
        None => anyhow::bail!("no subcommand given (try `multimem --help`)"),
    }
}

fn inspect(input: &Path, json: bool) -> Result<()> {
    let wasm = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let facts = multimem_transform::inspect::run(&wasm).with_context(|| format!("{}", input.display()))?;
    if json {
        println!("{}", serde_json::to_string(&facts)?);
    } else {
        print!("{}", facts.to_text());
    }
    Ok(())
}
