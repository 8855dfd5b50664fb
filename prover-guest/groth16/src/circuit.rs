//! A MiMC-style chain: x <- (x + k_i)^3 for each round, two constraints a round.

use ark_bn254::Fr;
use ark_r1cs_std::{alloc::AllocVar, eq::EqGadget, fields::fp::FpVar};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};

/// Rounds for a circuit of at most `constraints` constraints, leaving room
/// for the output check and the two instance variables so the QAP domain is
/// `constraints` itself when it is a power of two.
pub fn rounds_for(constraints: u32) -> usize {
    (constraints as usize).saturating_sub(4) / 2
}

fn round_constant(i: usize) -> Fr {
    Fr::from((i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Evaluates the chain outside the circuit.
pub fn evaluate(x0: Fr, rounds: usize) -> Fr {
    (0..rounds).fold(x0, |x, i| {
        let t = x + round_constant(i);
        t * t * t
    })
}

/// The circuit: private start `x0`, public output `out`.
#[derive(Clone)]
pub struct Chain {
    pub rounds: usize,
    pub x0: Option<Fr>,
    pub out: Option<Fr>,
    /// Check satisfiability while proving and panic if not (the trap workload).
    pub check: bool,
}

impl ConstraintSynthesizer<Fr> for Chain {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let out = FpVar::new_input(cs.clone(), || self.out.ok_or(SynthesisError::AssignmentMissing))?;
        let mut x = FpVar::new_witness(cs.clone(), || self.x0.ok_or(SynthesisError::AssignmentMissing))?;
        for i in 0..self.rounds {
            let t = &x + round_constant(i);
            let square = &t * &t;
            x = &square * &t;
        }
        x.enforce_equal(&out)?;
        if self.check && !cs.is_in_setup_mode() && !cs.is_satisfied()? {
            panic!("unsatisfied witness");
        }
        Ok(())
    }
}
