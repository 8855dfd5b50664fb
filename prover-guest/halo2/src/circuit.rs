//! A MiMC-style chain in one advice column: `x[i+1] = (x[i] + c[i])^3`,
//! one custom gate per row, the last value copied to the public output.

use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::pasta::Fp;
use halo2_proofs::plonk::{Advice, Circuit, Column, ConstraintSystem, Error, Fixed, Instance, Selector};
use halo2_proofs::poly::Rotation;

/// The columns and the round gate.
#[derive(Clone, Debug)]
pub struct Config {
    x: Column<Advice>,
    c: Column<Fixed>,
    out: Column<Instance>,
    round: Selector,
}

/// Rounds that fill a circuit of `2^k` rows, leaving the rows halo2 reserves for blinding.
pub fn rounds_for(k: u32) -> usize {
    let mut cs = ConstraintSystem::<Fp>::default();
    Chain::configure(&mut cs);
    (1usize << k).saturating_sub(cs.minimum_rows())
}

fn round_constant(i: usize) -> Fp {
    Fp::from((i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn round(x: Fp, i: usize) -> Fp {
    let t = x + round_constant(i);
    t.square() * t
}

/// Evaluates the chain outside the circuit.
pub fn evaluate(x0: Fp, rounds: usize) -> Fp {
    (0..rounds).fold(x0, round)
}

/// The circuit: private start `x0`, public output `evaluate(x0, rounds)`.
#[derive(Clone, Debug)]
pub struct Chain {
    pub rounds: usize,
    pub x0: Value<Fp>,
    /// Panic half-way through the witness (the trap workload); only while proving.
    pub fail: bool,
}

impl Circuit<Fp> for Chain {
    type Config = Config;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        Chain { rounds: self.rounds, x0: Value::unknown(), fail: false }
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> Config {
        let x = meta.advice_column();
        let c = meta.fixed_column();
        let out = meta.instance_column();
        let round = meta.selector();
        meta.enable_equality(x);
        meta.enable_equality(out);
        meta.create_gate("round", |meta| {
            let s = meta.query_selector(round);
            let cur = meta.query_advice(x, Rotation::cur());
            let next = meta.query_advice(x, Rotation::next());
            let t = cur + meta.query_fixed(c);
            vec![s * (next - t.clone() * t.clone() * t)]
        });
        Config { x, c, out, round }
    }

    fn synthesize(&self, config: Config, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        let last = layouter.assign_region(
            || "chain",
            |mut region| {
                let mut x = self.x0;
                let mut cell = region.assign_advice(|| "x0", config.x, 0, || x)?;
                for i in 0..self.rounds {
                    config.round.enable(&mut region, i)?;
                    region.assign_fixed(|| "c", config.c, i, || Value::known(round_constant(i)))?;
                    // Only a known witness (proving, not keygen or layout) reaches the closure.
                    let fail = self.fail && i == self.rounds / 2;
                    x = x.map(|v| {
                        assert!(!fail, "unsatisfied witness");
                        round(v, i)
                    });
                    cell = region.assign_advice(|| "x", config.x, i + 1, || x)?;
                }
                Ok(cell)
            },
        )?;
        layouter.constrain_instance(last.cell(), config.out, 0)
    }
}
