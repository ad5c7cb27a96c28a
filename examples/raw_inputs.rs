//! Logits and Jacobian norms of a saved network on raw inputs: a file of little-endian
//! f32 values, one row of `input_dim` per point (e.g. `numpy_array.astype('<f4').tofile(F)`).
//! Used to check networks exported from PyTorch against the framework's own numbers.
//!
//!     cargo run --release --example raw_inputs -- MODEL.safetensors INPUTS.f32

use occam::compute::Compute;
use occam::measure::jacobian_norms;
use occam::net::{Mlp, Workspace, engine};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(args.len() == 3, "usage: raw_inputs MODEL.safetensors INPUTS.f32");
    let net = Mlp::load(args[1].as_ref())?;
    let bytes = std::fs::read(&args[2])?;
    let x: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let d = net.input_dim();
    anyhow::ensure!(
        x.len().is_multiple_of(d),
        "{}: {} values is not a whole number of {d}-long rows",
        args[2],
        x.len()
    );
    let n = x.len() / d;
    let compute = Compute::new(std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut ws = Workspace::new(&net, n);
    let logits = engine::forward(&net, &compute, &x, n, &mut ws).to_vec();
    let jac = jacobian_norms(&net, &compute, &x, None)?;
    let k = net.classes();
    for i in 0..n {
        println!(
            "point {i}: jacobian_norm {:.8} logits {:?}",
            jac[i].jacobian_norm,
            &logits[i * k..(i + 1) * k]
        );
    }
    Ok(())
}
