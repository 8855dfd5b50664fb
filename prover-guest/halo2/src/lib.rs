//! zcash `halo2_proofs` 0.4 as a prover nobody on multimem wrote: the crate
//! from crates.io unmodified (`default-features = false`: no rayon, no
//! getrandom), a MiMC-style chain that fills the rows, and for wasm32 a
//! small C shim (see `ffi`) with the same exports as the Groth16 guest. No
//! multimem SDK: std's default allocator, so every allocation is memory 0's.

mod circuit;
mod ffi;

use chacha20::ChaCha20Rng;
use halo2_proofs::circuit::Value;
use halo2_proofs::pasta::group::ff::{Field, PrimeField};
use halo2_proofs::pasta::{EqAffine, Fp};
use halo2_proofs::plonk::{create_proof, keygen_pk, keygen_vk, verify_proof, ProvingKey, SingleVerifier};
use halo2_proofs::poly::commitment::Params;
use halo2_proofs::transcript::{Blake2bRead, Blake2bWrite, Challenge255};
use rand_core::SeedableRng;

pub use circuit::{evaluate, rounds_for, Chain};

/// Smallest and largest `k` (a circuit of `2^k` rows).
pub const K_RANGE: std::ops::RangeInclusive<u32> = 4..=20;

/// Why a call failed; the codes match the Groth16 guest's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// `setup` was never called.
    NoSetup,
    /// `k` outside [`K_RANGE`].
    BadSize,
    /// halo2 refused (keygen or proving).
    Synthesis,
    /// Proof bytes could not be parsed.
    Malformed,
}

impl Error {
    /// The negative status the C ABI returns for this error.
    pub fn code(self) -> i32 {
        match self {
            Error::NoSetup => -1,
            Error::BadSize => -2,
            Error::Synthesis => -3,
            Error::Malformed => -4,
        }
    }
}

/// Parameters and keys of one circuit size; they live for the prover's whole life.
struct Keys {
    k: u32,
    rounds: usize,
    params: Params<EqAffine>,
    pk: ProvingKey<EqAffine>,
}

/// A halo2 prover holding the keys of every circuit size set up so far.
#[derive(Default)]
pub struct Prover {
    keys: Vec<Keys>,
    current: Option<usize>,
    /// Bytes leaked (allocated, written, never freed) by each proof.
    pub leak: usize,
    /// Whether proofs panic half-way through the witness (a trap in wasm).
    pub fail: bool,
}

impl Prover {
    pub fn new() -> Self {
        Self::default()
    }

    /// Generates (or reuses) parameters and keys for `2^k` rows and selects them.
    pub fn setup(&mut self, k: u32) -> Result<(), Error> {
        if !K_RANGE.contains(&k) {
            return Err(Error::BadSize);
        }
        if let Some(i) = self.keys.iter().position(|keys| keys.k == k) {
            self.current = Some(i);
            return Ok(());
        }
        let rounds = rounds_for(k);
        let params = Params::<EqAffine>::new(k);
        let blank = Chain { rounds, x0: Value::unknown(), fail: false };
        let vk = keygen_vk(&params, &blank).map_err(|_| Error::Synthesis)?;
        let pk = keygen_pk(&params, vk, &blank).map_err(|_| Error::Synthesis)?;
        self.keys.push(Keys { k, rounds, params, pk });
        self.current = Some(self.keys.len() - 1);
        Ok(())
    }

    /// `k` of the selected circuit.
    pub fn k(&self) -> Option<u32> {
        self.current.map(|i| self.keys[i].k)
    }

    /// Proves knowledge of a chain start derived from `seed`: the public
    /// output (32 bytes) then halo2's transcript. The same seed gives the same
    /// bytes. Panics (traps in wasm) when `fail` is set.
    pub fn prove(&self, seed: u64) -> Result<Vec<u8>, Error> {
        let keys = &self.keys[self.current.ok_or(Error::NoSetup)?];
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let x0 = Fp::random(&mut rng);
        let out = evaluate(x0, keys.rounds);
        if self.leak > 0 {
            // The forgotten-FFI-vector pattern: written, never freed.
            core::hint::black_box(vec![0xA5u8; self.leak].leak());
        }
        let circuit = Chain { rounds: keys.rounds, x0: Value::known(x0), fail: self.fail };
        let mut transcript = Blake2bWrite::<_, EqAffine, Challenge255<_>>::init(out.to_repr().to_vec());
        create_proof(&keys.params, &keys.pk, &[circuit], &[&[&[out]]], rng, &mut transcript)
            .map_err(|_| Error::Synthesis)?;
        Ok(transcript.finalize())
    }

    /// Checks proof bytes made by [`Prover::prove`] against the selected verifying key.
    pub fn verify(&self, bytes: &[u8]) -> Result<bool, Error> {
        let keys = &self.keys[self.current.ok_or(Error::NoSetup)?];
        let (out, transcript) = bytes.split_at_checked(32).ok_or(Error::Malformed)?;
        let out = Option::<Fp>::from(Fp::from_repr(out.try_into().unwrap())).ok_or(Error::Malformed)?;
        let mut transcript = Blake2bRead::<_, EqAffine, Challenge255<_>>::init(transcript);
        let strategy = SingleVerifier::new(&keys.params);
        Ok(verify_proof(&keys.params, keys.pk.get_vk(), strategy, &[&[&[out]]], &mut transcript).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_fills_the_rows() {
        let rounds = rounds_for(8);
        assert!(rounds >= 256 - 10, "{rounds}");
        let x0 = Fp::from(3);
        let circuit = Chain { rounds, x0: Value::known(x0), fail: false };
        let out = evaluate(x0, rounds);
        let mock = halo2_proofs::dev::MockProver::run(8, &circuit, vec![vec![out]]).unwrap();
        assert_eq!(mock.verify(), Ok(()));
        let wrong = halo2_proofs::dev::MockProver::run(8, &circuit, vec![vec![out + Fp::ONE]]).unwrap();
        assert!(wrong.verify().is_err());
    }

    #[test]
    fn proofs_verify_and_are_deterministic() {
        let mut p = Prover::new();
        p.setup(8).unwrap();
        let a = p.prove(7).unwrap();
        assert_eq!(a, p.prove(7).unwrap());
        assert_ne!(a, p.prove(8).unwrap());
        assert!(p.verify(&a).unwrap());
        let mut bad = a.clone();
        bad[40] ^= 1;
        assert!(!p.verify(&bad).unwrap_or(false));
        let mut wrong_output = a.clone();
        wrong_output[0] ^= 1;
        assert!(!p.verify(&wrong_output).unwrap_or(false));
    }

    #[test]
    fn a_failing_proof_panics_and_the_next_one_verifies() {
        let mut p = Prover::new();
        p.setup(6).unwrap();
        p.fail = true;
        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| p.prove(1)));
        assert!(failed.is_err(), "a failing proof must panic part-way");
        p.fail = false;
        assert!(p.verify(&p.prove(2).unwrap()).unwrap());
    }
}
