//! Reference prover for multimem: arkworks Groth16 over BN254 proving
//! knowledge of the start of a MiMC-style chain, with knobs for the
//! workloads that make wasm provers grow (leaks, traps, changing sizes).
//!
//! Natively it is a library ([`Prover`]); built for wasm32 it exports a
//! plain C ABI (see `ffi`) and routes proof-time allocations with the
//! multimem guest SDK (feature `sdk`, on by default; without it the same
//! prover uses std's allocator and imports nothing).

mod circuit;
mod ffi;

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, PreparedVerifyingKey, Proof, ProvingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use ark_snark::SNARK;
use ark_std::UniformRand;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

pub use circuit::{evaluate, rounds_for, Chain};

/// Bytes of a serialised proof: public output (32) then the compressed proof (128).
pub const PROOF_BYTES: usize = 32 + 128;

/// Why a call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// `setup` was never called.
    NoSetup,
    /// Constraint count outside 2^4..=2^20.
    BadSize,
    /// Arkworks refused (setup or proving).
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

/// Keys of one circuit size; they live for the prover's whole life.
struct Keys {
    constraints: u32,
    rounds: usize,
    pk: ProvingKey<Bn254>,
    pvk: PreparedVerifyingKey<Bn254>,
}

/// A Groth16 prover holding the keys of every circuit size set up so far.
#[derive(Default)]
pub struct Prover {
    keys: Vec<Keys>,
    current: Option<usize>,
    /// Bytes leaked (allocated, written, never freed) by each proof.
    pub leak: usize,
    /// Whether proofs use a wrong output, so proving traps part-way.
    pub fail: bool,
}

impl Prover {
    pub fn new() -> Self {
        Self::default()
    }

    /// Generates (or reuses) keys for a circuit of `constraints` constraints and selects it.
    pub fn setup(&mut self, constraints: u32) -> Result<(), Error> {
        if !(16..=1 << 20).contains(&constraints) {
            return Err(Error::BadSize);
        }
        if let Some(i) = self.keys.iter().position(|k| k.constraints == constraints) {
            self.current = Some(i);
            return Ok(());
        }
        let rounds = rounds_for(constraints);
        let blank = Chain { rounds, x0: None, out: None, check: false };
        let mut rng = ChaCha20Rng::seed_from_u64(u64::from(constraints));
        let (pk, vk) = Groth16::<Bn254>::circuit_specific_setup(blank, &mut rng).map_err(|_| Error::Synthesis)?;
        let pvk = Groth16::<Bn254>::process_vk(&vk).map_err(|_| Error::Synthesis)?;
        self.keys.push(Keys { constraints, rounds, pk, pvk });
        self.current = Some(self.keys.len() - 1);
        Ok(())
    }

    /// Constraint count of the selected circuit.
    pub fn constraints(&self) -> Option<u32> {
        self.current.map(|i| self.keys[i].constraints)
    }

    /// Proves knowledge of a chain start derived from `seed`; the same seed
    /// gives the same bytes. Panics (traps in wasm) when `fail` is set.
    pub fn prove(&self, seed: u64) -> Result<Vec<u8>, Error> {
        let keys = &self.keys[self.current.ok_or(Error::NoSetup)?];
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let x0 = Fr::rand(&mut rng);
        let mut out = evaluate(x0, keys.rounds);
        if self.fail {
            out += Fr::from(1u64);
        }
        if self.leak > 0 {
            // The forgotten-FFI-vector pattern: written, never freed.
            // black_box: without a use, LLVM may elide the allocation.
            core::hint::black_box(vec![0xA5u8; self.leak].leak());
        }
        let circuit = Chain { rounds: keys.rounds, x0: Some(x0), out: Some(out), check: self.fail };
        let proof = Groth16::<Bn254>::prove(&keys.pk, circuit, &mut rng).map_err(|_| Error::Synthesis)?;
        let mut bytes = Vec::with_capacity(PROOF_BYTES);
        out.serialize_compressed(&mut bytes).map_err(|_| Error::Synthesis)?;
        proof.serialize_compressed(&mut bytes).map_err(|_| Error::Synthesis)?;
        Ok(bytes)
    }

    /// Checks proof bytes made by [`Prover::prove`] against the selected verifying key.
    pub fn verify(&self, bytes: &[u8]) -> Result<bool, Error> {
        let keys = &self.keys[self.current.ok_or(Error::NoSetup)?];
        if bytes.len() != PROOF_BYTES {
            return Err(Error::Malformed);
        }
        let (out, proof) = bytes.split_at(32);
        let out = Fr::deserialize_compressed(out).map_err(|_| Error::Malformed)?;
        let proof = Proof::<Bn254>::deserialize_compressed(proof).map_err(|_| Error::Malformed)?;
        Groth16::<Bn254>::verify_with_processed_vk(&keys.pvk, &[out], &proof).map_err(|_| Error::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};

    #[test]
    fn constraint_count_fits_the_domain() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let c = Chain { rounds: rounds_for(1 << 10), x0: Some(Fr::from(3u64)), out: None, check: false };
        let out = evaluate(Fr::from(3u64), c.rounds);
        Chain { out: Some(out), ..c }.generate_constraints(cs.clone()).unwrap();
        assert!(cs.is_satisfied().unwrap());
        assert!(cs.num_constraints() + cs.num_instance_variables() <= 1 << 10, "{}", cs.num_constraints());
        assert!(cs.num_constraints() >= (1 << 10) - 8);
    }

    #[test]
    fn proofs_verify_and_are_deterministic() {
        let mut p = Prover::new();
        p.setup(1 << 10).unwrap();
        let a = p.prove(7).unwrap();
        assert_eq!(a, p.prove(7).unwrap());
        assert!(p.verify(&a).unwrap());
        let mut bad = a.clone();
        bad[0] ^= 1;
        assert!(!p.verify(&bad).unwrap_or(false));
    }
}
