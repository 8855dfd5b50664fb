//! Precompiled provers: wasmtime's compiled code for one engine
//! configuration, followed by what the runtime needs to run it.
//!
//! The file is wasmtime's artefact (an ELF file, what `wasmtime compile` and
//! [`Engine::precompile_module`] write), then a payload, then a fixed-size
//! trailer. wasmtime drops a module's custom sections when it compiles, so
//! the runtime's facts cannot ride inside the code; it reads the ELF from the
//! start of the file and ignores what follows it, so they ride behind.
//!
//! - payload: format, multimem version, engine fingerprint, the strategy and
//!   memory limits it was compiled for, the split, how memory 0 is made and
//!   its initial contents (the data segments the per-proof module no longer applies);
//! - trailer: code length, payload length, checksum of both, [`MAGIC`].

use std::fs::File;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::FileExt;
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use wasmtime::{Engine, Module};

use crate::plan::{limit_pages, Layout, Memory0Plan, Plan};
use crate::{Limits, Strategy};

/// The last bytes of every precompiled prover.
const MAGIC: &[u8; 8] = b"mmcwasm\x01";
/// Layout of the payload; bumped when it changes, or when the code a strategy
/// compiles must change (4: the view form checks memory 0's bounds before
/// fill, copy, init, notify and wait).
const FORMAT: u32 = 4;
const TRAILER: u64 = 32;
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Compiles `wasm` for `strategy` and `limits` on `engine`, as
/// [`crate::Prover::load`] would, and returns the precompiled prover that
/// [`crate::Prover::load_precompiled`] maps instead of compiling (`multimem compile`).
/// The memory limits are compiled in; a deadline is not.
pub fn precompile(engine: &Engine, wasm: &[u8], strategy: Strategy, limits: Limits) -> Result<Vec<u8>> {
    let Plan { wasm, layout } = Plan::new(wasm, strategy, &limits)?;
    let mut out = engine.precompile_module(&wasm).map_err(anyhow::Error::from).context("compiling the module")?;
    drop(wasm);
    let code_len = out.len() as u64;
    let made = Made { version: VERSION.to_string(), engine: fingerprint(engine), strategy: strategy.name().to_string(), limits: limit_pages(&limits), layout };
    made.encode(&mut out);
    let payload_len = out.len() as u64 - code_len;
    let sum = checksum(&out);
    for word in [code_len, payload_len, sum] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(MAGIC);
    Ok(out)
}

/// Checks the artefact at `path` against what the caller runs, then maps its code.
///
/// # Safety
///
/// [`crate::Prover::load_precompiled`]'s contract.
pub(crate) unsafe fn open(engine: &Engine, path: &Path, strategy: Strategy, limits: &Limits) -> Result<(Module, Layout)> {
    let shown = path.display();
    let file = File::open(path).with_context(|| format!("opening {shown}"))?;
    let len = file.metadata().with_context(|| format!("reading {shown}"))?.len();
    let not_ours = || format!("{shown} is not a precompiled prover (made by `multimem compile`)");
    ensure!(len >= TRAILER, not_ours());
    let mut trailer = [0; TRAILER as usize];
    file.read_exact_at(&mut trailer, len - TRAILER).with_context(|| format!("reading {shown}"))?;
    ensure!(&trailer[24..] == MAGIC, not_ours());
    let word = |i: usize| u64::from_le_bytes(trailer[i * 8..i * 8 + 8].try_into().unwrap());
    let (code_len, payload_len, sum) = (word(0), word(1), word(2));
    let damaged = || format!("{shown} is damaged (compile it again)");
    ensure!(code_len.checked_add(payload_len).and_then(|n| n.checked_add(TRAILER)) == Some(len), "{}: its length does not match", damaged());
    ensure!(checksum_file(&file, code_len + payload_len).with_context(|| format!("reading {shown}"))? == sum, "{}: its checksum does not match", damaged());
    let mut payload = vec![0; usize::try_from(payload_len)?];
    file.read_exact_at(&mut payload, code_len).with_context(|| format!("reading {shown}"))?;
    let made = Made::decode(&payload).with_context(damaged)?;
    drop(payload);
    made.check(engine, strategy, limits).with_context(|| format!("{shown}"))?;
    // SAFETY: the caller vouches that the file came from `precompile` and stays
    // unchanged while the module lives; the checksum says it arrived whole.
    let module = unsafe { Module::deserialize_open_file(engine, file) }
        .map_err(|e| anyhow::anyhow!("{shown}: wasmtime refused the precompiled prover: {e:#}"))?;
    Ok((module, made.layout))
}

/// What an artefact was made for and from.
struct Made {
    version: String,
    engine: u64,
    strategy: String,
    /// Memory 0 and memory 1 caps in pages, as compiled in.
    limits: (Option<u64>, Option<u64>),
    layout: Layout,
}

impl Made {
    fn check(&self, engine: &Engine, strategy: Strategy, limits: &Limits) -> Result<()> {
        ensure!(
            self.version == VERSION,
            "made by multimem {}, this is multimem {VERSION}: compile it again with this one",
            self.version
        );
        let made_for: Strategy = self.strategy.parse().map_err(anyhow::Error::msg)?;
        // The view strategies and fork run one module; they differ only in how the host maps memory 0.
        let same_code = |s: Strategy| if matches!(s, Strategy::PrivateView | Strategy::Fork) { Strategy::View } else { s };
        ensure!(
            same_code(made_for) == same_code(strategy),
            "compiled for strategy {made_for}, not {strategy}: compile it again with `--strategy {strategy}`"
        );
        let wanted = limit_pages(limits);
        let mib = |pages: Option<u64>| pages.map_or("none".to_string(), |p| format!("{} MiB", (p * multimem_transform::PAGE) >> 20));
        for (name, made, wanted) in [("memory 0", self.limits.0, wanted.0), ("memory 1", self.limits.1, wanted.1)] {
            ensure!(
                made == wanted,
                "compiled with {name} capped at {}, not {}: compile it again with the limits you run with",
                mib(made),
                mib(wanted)
            );
        }
        ensure!(
            self.engine == fingerprint(engine),
            "compiled for another engine configuration or wasmtime version than this engine's \
             (wasmtime settings such as the optimisation level, memory reservation or guard size, or the wasmtime release): \
             compile it again with the engine that loads it"
        );
        Ok(())
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer(out);
        w.u32(FORMAT);
        w.str(&self.version);
        w.u64(self.engine);
        w.str(&self.strategy);
        w.opt(self.limits.0);
        w.opt(self.limits.1);
        w.opt(self.layout.split.map(u64::from));
        w.str(self.layout.start.as_deref().unwrap_or(""));
        match &self.layout.memory0 {
            Memory0Plan::Own => w.u8(0),
            Memory0Plan::Shared { import, initial_pages, maximum_pages, data } => {
                w.u8(1);
                w.str(&import.0);
                w.str(&import.1);
                w.u64(*initial_pages);
                w.u64(*maximum_pages);
                w.data(data);
            }
            Memory0Plan::View { initial_pages, data } => {
                w.u8(2);
                w.u64(*initial_pages);
                w.data(data);
            }
        }
    }

    fn decode(bytes: &[u8]) -> Result<Made> {
        let mut r = Reader { bytes, at: 0 };
        let format = r.u32()?;
        ensure!(format == FORMAT, "artefact format {format}, this multimem reads format {FORMAT}");
        let (version, engine, strategy) = (r.str()?, r.u64()?, r.str()?);
        let limits = (r.opt()?, r.opt()?);
        let split = r.opt()?.map(u32::try_from).transpose()?;
        let start = Some(r.str()?).filter(|s| !s.is_empty());
        let memory0 = match r.u8()? {
            0 => Memory0Plan::Own,
            1 => Memory0Plan::Shared { import: (r.str()?, r.str()?), initial_pages: r.u64()?, maximum_pages: r.u64()?, data: r.data()? },
            2 => Memory0Plan::View { initial_pages: r.u64()?, data: r.data()? },
            other => bail!("unknown memory 0 kind {other}"),
        };
        ensure!(r.at == bytes.len(), "{} bytes after the payload", bytes.len() - r.at);
        Ok(Made { version, engine, strategy, limits, layout: Layout { split, memory0, start } })
    }
}

/// The engine's compatibility hash (wasmtime's own: target, compiler flags,
/// tunables, features, version), folded with a hasher whose output never
/// changes between Rust releases.
fn fingerprint(engine: &Engine) -> u64 {
    let mut hasher = Fnv(0xcbf2_9ce4_8422_2325);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.finish()
}

struct Fnv(u64);

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A fast checksum of whole words: it finds damage (a truncated copy, a
/// flipped bit), not forgery.
fn checksum(bytes: &[u8]) -> u64 {
    let mut sum = Checksum::default();
    sum.add(bytes);
    sum.finish()
}

/// [`checksum`] of the first `len` bytes of `file`, read in pieces (not mapped: no resident pages stay).
fn checksum_file(file: &File, len: u64) -> std::io::Result<u64> {
    let mut sum = Checksum::default();
    let mut buffer = vec![0; 1 << 20];
    let mut at = 0;
    while at < len {
        let n = buffer.len().min((len - at) as usize);
        file.read_exact_at(&mut buffer[..n], at)?;
        sum.add(&buffer[..n]);
        at += n as u64;
    }
    Ok(sum.finish())
}

#[derive(Default)]
struct Checksum {
    lanes: [u64; 4],
    tail: Vec<u8>,
    len: u64,
}

impl Checksum {
    /// Pieces must be whole multiples of 32 bytes but for the last.
    fn add(&mut self, bytes: &[u8]) {
        debug_assert!(self.tail.is_empty(), "only the last piece may be ragged");
        self.len += bytes.len() as u64;
        let mut chunks = bytes.chunks_exact(32);
        for chunk in &mut chunks {
            for (lane, word) in self.lanes.iter_mut().zip(chunk.chunks_exact(8)) {
                let w = u64::from_le_bytes(word.try_into().unwrap());
                *lane = (*lane ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(31);
            }
        }
        self.tail.extend_from_slice(chunks.remainder());
    }

    fn finish(&self) -> u64 {
        let mut h = self.len.wrapping_mul(0xff51_afd7_ed55_8ccd);
        for lane in self.lanes {
            h = (h ^ lane).wrapping_mul(0xc4ce_b9fe_1a85_ec53).rotate_left(27);
        }
        for b in &self.tail {
            h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
        h ^ (h >> 33)
    }
}

struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.u64(v.len() as u64);
        self.0.extend_from_slice(v);
    }
    fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
    fn opt(&mut self, v: Option<u64>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.u64(v);
            }
        }
    }
    fn data(&mut self, segments: &[(u32, Vec<u8>)]) {
        self.u64(segments.len() as u64);
        for (offset, bytes) in segments {
            self.u32(*offset);
            self.bytes(bytes);
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: u64) -> Result<&[u8]> {
        let end = usize::try_from(n).ok().and_then(|n| self.at.checked_add(n)).filter(|&end| end <= self.bytes.len());
        let end = end.context("the payload ends early")?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into()?))
    }
    fn bytes(&mut self) -> Result<Vec<u8>> {
        let n = self.u64()?;
        Ok(self.take(n)?.to_vec())
    }
    fn str(&mut self) -> Result<String> {
        Ok(String::from_utf8(self.bytes()?)?)
    }
    fn opt(&mut self) -> Result<Option<u64>> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.u64()?)),
            other => bail!("bad option tag {other}"),
        }
    }
    fn data(&mut self) -> Result<Vec<(u32, Vec<u8>)>> {
        let n = self.u64()?;
        // Each segment takes at least 12 bytes: a corrupt count cannot make us allocate much.
        ensure!(n <= (self.bytes.len() - self.at) as u64 / 12, "bad segment count {n}");
        (0..n).map(|_| Ok((self.u32()?, self.bytes()?))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_is_the_same_read_whole_or_in_pieces() {
        let bytes: Vec<u8> = (0..100_003u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let mut pieces = Checksum::default();
        pieces.add(&bytes[..64 * 1024]);
        pieces.add(&bytes[64 * 1024..]);
        assert_eq!(pieces.finish(), checksum(&bytes));
        let mut flipped = bytes.clone();
        flipped[77_777] ^= 4;
        assert_ne!(checksum(&flipped), checksum(&bytes));
        assert_ne!(checksum(&bytes[..bytes.len() - 1]), checksum(&bytes));
    }

    #[test]
    fn the_payload_reads_back_as_written() {
        let layout = Layout {
            split: Some(0x8000_0000),
            memory0: Memory0Plan::Shared { import: ("multimem".into(), "m0".into()), initial_pages: 17, maximum_pages: 32768, data: vec![(1024, vec![1, 2, 3])] },
            start: Some("multimem.start".into()),
        };
        let made = Made { version: VERSION.into(), engine: 42, strategy: "recreate".into(), limits: (None, Some(64)), layout: layout.clone() };
        let mut bytes = Vec::new();
        made.encode(&mut bytes);
        let back = Made::decode(&bytes).unwrap();
        assert_eq!((back.layout, back.limits, back.engine, back.strategy.as_str()), (layout, (None, Some(64)), 42, "recreate"));
        assert!(Made::decode(&bytes[..bytes.len() - 1]).is_err());
    }
}
