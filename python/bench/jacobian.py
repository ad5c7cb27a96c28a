"""Benchmark: `Network.jacobian_norms` on 2,000 points from Python against the Rust
library's `occam::measure::jacobian_norms` on the same network and points, in one run.

The Rust time is measured inside the extension (`_occam.time_jacobian_norms`: the library
call alone, no Python in the loop, same thread pool); the Python time is the whole public
call (argument checks, conversion, the same library call, building the result arrays).
Calls alternate between the two so that both see the same machine state; the medians
are compared.

    .venv/bin/python python/bench/jacobian.py [--threads 1 2] [--repeats 7]
"""

import argparse
import statistics
import time

import numpy as np

import occam
from occam import _occam


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--depth", type=int, default=3, help="number of weight matrices")
    args = parser.parse_args()

    try:
        X, _ = occam.load_dataset("fashion-mnist", "test")
        X, source = X[: args.points], "Fashion-MNIST test split"
    except occam.OccamError:
        X = np.random.default_rng(0).standard_normal((args.points, 28, 28, 1)).astype(np.float32)
        source = "random normal points (Fashion-MNIST not installed)"
    rng = np.random.default_rng(1)
    dims = [784] + [args.width] * (args.depth - 1) + [10]
    weights = [(rng.standard_normal((o, i)) * np.sqrt(2.0 / i)).astype(np.float32) for i, o in zip(dims, dims[1:])]
    net = occam.Network.from_arrays(weights, "relu", input_shape=(28, 28, 1))
    print(f"network {dims} relu, {len(X)} points ({source})")

    for threads in args.threads:
        net.jacobian_norms(X, threads=threads)  # warm-up: pool start, caches
        rust, python = [], []
        for _ in range(args.repeats):
            rust += _occam.time_jacobian_norms(net._net, X, threads, 1)
            started = time.perf_counter()
            net.jacobian_norms(X, threads=threads)
            python.append(time.perf_counter() - started)
        r, p = statistics.median(rust), statistics.median(python)
        print(
            f"threads={threads}: Rust library {r * 1e3:8.1f} ms, Python call {p * 1e3:8.1f} ms, "
            f"Python/Rust = {p / r:.3f} ({(p / r - 1) * 100:+.1f}%)"
        )


if __name__ == "__main__":
    main()
