#!/usr/bin/env python3
"""peers_gpu.py -- the peers' train and jacobian workloads (shared/bench/peers/peers.py) in
PyTorch CUDA and JAX GPU, so that `occam --device cuda bench` numbers on the same GPU are
ratios, not absolutes.

The workloads are those of peers.py, on the GPU:
  train     one SGD-momentum step (lr 0.005, momentum 0.9, torch semantics) of a bias-free
            ReLU MLP, 784 inputs, 10 classes, on a fixed batch of 256 normalised Gaussian
            inputs with random labels; widths x depths (1000, 5) and (2000, 3).
  jacobian  the Frobenius norm of the softmax Jacobian of N points (default 10,000),
            vmap(jacrev) in chunks of 500; (200, 5) and (1000, 3).
Weights and data are drawn as peers.py draws them (same seeds), float32 throughout.

Prints one JSON object per measurement (as peers.py and `occam bench` do) and a table.
Usage: python3 scripts/peers_gpu.py [--framework torch|jax|all] [--points N] [--quick]
"""
import argparse
import json
import math
import os
import time

# JAX takes 75% of the GPU's memory at start unless told otherwise; the PyTorch rows run
# first in the same process and must not be starved of memory.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import numpy as np

IN_DIM, N_CLASSES, SEED = 784, 10, 20240601
TAGS = {"train": 1, "jacobian": 2}
TRAIN_CONFIGS = [(1000, 5), (2000, 3)]
JAC_CONFIGS = [(200, 5), (1000, 3)]
TRAIN_BATCH, LR, MOMENTUM, JAC_CHUNK = 256, 0.005, 0.9, 500


def make_weights(width, depth, tag):
    rng = np.random.default_rng([SEED, TAGS[tag], width, depth])
    dims = [IN_DIM] + [width] * (depth - 1) + [N_CLASSES]
    return [(rng.standard_normal((fo, fi)) * math.sqrt(2.0 / fi)).astype(np.float32)
            for fi, fo in zip(dims[:-1], dims[1:])]


def make_inputs(n, tag):
    rng = np.random.default_rng([SEED, TAGS[tag], 1000 + n])
    x = rng.standard_normal((n, IN_DIM))
    x = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
    return x.astype(np.float32), rng.integers(0, N_CLASSES, n).astype(np.int64)


def timed(fn, reps, min_rep):
    """Median seconds per call of fn (which blocks until its work is done)."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, math.ceil(min_rep / once))
    per_call = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        per_call.append((time.perf_counter() - t0) / inner)
    per_call.sort()
    return per_call[len(per_call) // 2], per_call[0], per_call[-1]


def emit(fw, workload, config, med, lo, hi, unit_value, unit, device, result=None):
    row = {"type": "measurement", "framework": fw, "workload": workload, "config": config,
           "device": device, "median_s": med, "min_s": lo, "max_s": hi,
           "unit_value": unit_value, "unit": unit, "result": result or {}}
    print(json.dumps(row), flush=True)
    return row


def torch_rows(points, reps, min_rep):
    import torch
    import torch.nn.functional as F
    if not torch.cuda.is_available():
        raise RuntimeError(f"PyTorch {torch.__version__} sees no CUDA GPU: its numbers would be CPU numbers")
    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False   # float32 products, as Occam's cuBLAS calls
    name = torch.cuda.get_device_name(0)
    rows = []
    for w, d in TRAIN_CONFIGS:
        Ws = [torch.from_numpy(W).to(dev).requires_grad_() for W in make_weights(w, d, "train")]
        x_np, y_np = make_inputs(TRAIN_BATCH, "train")
        x, y = torch.from_numpy(x_np).to(dev), torch.from_numpy(y_np).to(dev)
        opt = torch.optim.SGD(Ws, lr=LR, momentum=MOMENTUM)
        losses = []

        def step():
            opt.zero_grad(set_to_none=True)
            h = x
            for W in Ws[:-1]:
                h = torch.relu(F.linear(h, W))
            loss = F.cross_entropy(F.linear(h, Ws[-1]), y)
            loss.backward()
            opt.step()
            if len(losses) < 11:
                losses.append(float(loss))   # a read-back, as Occam reads its loss each step
            else:
                torch.cuda.synchronize()
        med, lo, hi = timed(step, reps, min_rep)
        rows.append(emit("torch", "train", {"w": w, "depth": d}, med, lo, hi, 1.0 / med, "steps/s", name,
                         {"loss_step0": losses[0], "loss_step10": losses[10]}))
    for w, d in JAC_CONFIGS:
        Ws = [torch.from_numpy(W).to(dev) for W in make_weights(w, d, "jacobian")]
        X = torch.from_numpy(make_inputs(points, "jacobian")[0]).to(dev)

        def f(xv):
            h = xv
            for W in Ws[:-1]:
                h = torch.relu(F.linear(h, W))
            return torch.softmax(F.linear(h, Ws[-1]), dim=-1)
        jf = torch.func.vmap(torch.func.jacrev(f))
        mean = [0.0]

        def run():
            norms = torch.cat([torch.sqrt((J * J).sum(dim=(1, 2)))
                               for J in (jf(X[c:c + JAC_CHUNK]) for c in range(0, points, JAC_CHUNK))])
            mean[0] = float(norms.mean())
        med, lo, hi = timed(run, reps, min_rep)
        rows.append(emit("torch", "jacobian", {"w": w, "depth": d, "n": points}, med, lo, hi, points / med,
                         "points/s", name, {"mean_jac_fro": mean[0]}))
    return rows


def jax_rows(points, reps, min_rep):
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_default_matmul_precision", "highest")   # no TF32
    device = jax.devices()[0]
    if device.platform != "gpu":   # a CPU-only jaxlib falls back silently: not a GPU number
        raise RuntimeError(f"JAX {jax.__version__} runs on {device.platform} ({device}), not the GPU")
    name = str(device)
    rows = []
    for w, d in TRAIN_CONFIGS:
        params = [jnp.array(W) for W in make_weights(w, d, "train")]
        mom = [jnp.zeros_like(p) for p in params]
        x_np, y_np = make_inputs(TRAIN_BATCH, "train")
        x, y = jnp.array(x_np), jnp.array(y_np.astype(np.int32))

        def loss_fn(ps, xb, yb):
            h = xb
            for W in ps[:-1]:
                h = jax.nn.relu(h @ W.T)
            logp = jax.nn.log_softmax(h @ ps[-1].T)
            return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))

        @jax.jit
        def step(ps, ms):
            loss, g = jax.value_and_grad(loss_fn)(ps, x, y)
            ms = [MOMENTUM * m + gi for m, gi in zip(ms, g)]
            return [p - LR * m for p, m in zip(ps, ms)], ms, loss
        state = {"p": params, "m": mom, "losses": []}

        def one():
            state["p"], state["m"], loss = step(state["p"], state["m"])
            state["losses"].append(float(loss)) if len(state["losses"]) < 11 else loss.block_until_ready()
        med, lo, hi = timed(one, reps, min_rep)
        ls = state["losses"]
        rows.append(emit("jax", "train", {"w": w, "depth": d}, med, lo, hi, 1.0 / med, "steps/s", name,
                         {"loss_step0": ls[0], "loss_step10": ls[10]}))
    for w, d in JAC_CONFIGS:
        Ws = [jnp.array(W) for W in make_weights(w, d, "jacobian")]
        X = jnp.array(make_inputs(points, "jacobian")[0])

        def f(xv, ws):
            h = xv
            for W in ws[:-1]:
                h = jax.nn.relu(W @ h)
            return jax.nn.softmax(ws[-1] @ h)
        jac = jax.vmap(jax.jacrev(f), in_axes=(0, None))

        @jax.jit
        def chunk_norms(xc, ws):
            J = jac(xc, ws)
            return jnp.sqrt(jnp.sum(J * J, axis=(1, 2)))
        mean = [0.0]

        def run():
            norms = jnp.concatenate([chunk_norms(X[c:c + JAC_CHUNK], Ws) for c in range(0, points, JAC_CHUNK)])
            mean[0] = float(norms.mean())
        med, lo, hi = timed(run, reps, min_rep)
        rows.append(emit("jax", "jacobian", {"w": w, "depth": d, "n": points}, med, lo, hi, points / med,
                         "points/s", name, {"mean_jac_fro": mean[0]}))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--framework", choices=["torch", "jax", "all"], default="all")
    ap.add_argument("--points", type=int, default=10000, help="Jacobian points (a multiple of 500)")
    ap.add_argument("--quick", action="store_true", help="fewer, shorter repetitions")
    args = ap.parse_args()
    if args.points < JAC_CHUNK or args.points % JAC_CHUNK:
        ap.error(f"--points {args.points}: must be a positive multiple of {JAC_CHUNK}")
    reps, min_rep = (3, 0.1) if args.quick else (7, 0.25)
    rows, failed = [], False
    for fw, run in [("torch", torch_rows), ("jax", jax_rows)]:
        if args.framework in (fw, "all"):
            try:
                rows += run(args.points, reps, min_rep)
            except Exception as e:   # one framework failing must not hide the other's numbers
                print(json.dumps({"type": "error", "framework": fw, "error": repr(e)}), flush=True)
                failed = True
    print(f"\n{'framework':<9} {'workload':<9} {'config':<24} {'median':>11} {'throughput':>16}")
    for r in rows:
        print(f"{r['framework']:<9} {r['workload']:<9} {json.dumps(r['config']):<24} "
              f"{r['median_s'] * 1e3:>9.3f}ms {r['unit_value']:>10.1f} {r['unit']}")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
