"""Occam from Python in one page: train a small network, save and load it, measure it on
your own points, count linear-region transitions, and read a sweep's store into pandas.
Runs in seconds on 2 cores (Fashion-MNIST from `apt-get install dataset-fashion-mnist`)."""

import subprocess
import tempfile
from pathlib import Path

import numpy as np

import occam

work = Path(tempfile.mkdtemp())

# 1. Train a small network (a tqdm bar shows when tqdm is installed).
net, metrics = occam.train(data="fashion-mnist", width=64, depth=3, train_size=2000,
                           steps=400, batch=64, lr=0.01, seed=1)
print(net, f"test accuracy {metrics['test_accuracy']:.3f}")

# 2. Save it, and load it back (a PyTorch state_dict file loads the same way).
net.save(work / "net.safetensors")
net = occam.Network.from_safetensors(work / "net.safetensors")

# 3. Measure it on your own points: any float32/float64 array of shape (n, 784) or
#    (n, 28, 28, 1). Here: Fashion-MNIST's test split exactly as Occam normalizes it.
X, y = occam.load_dataset("fashion-mnist", "test")
X, y = X[:500], y[:500]
per_point = net.jacobian_norms(X, labels=y)       # dict of 1-D NumPy arrays
print("mean Jacobian norm", per_point["jacobian_norm"].mean(),
      "accuracy", net.evaluate(X, y)["accuracy"])

# 4. Linear-region transitions along the translation loop of one image.
loop = occam.trajectories.translate(X[0], input_shape=(28, 28, 1))
print("transitions", net.transitions(loop))

# 5. A small sweep with the command line, read into pandas.
spec = work / "sweep.toml"
spec.write_text("""
name = "widths"
[axes]
width = [16, 32]
seed = [1, 2]
steps = [200]
[fixed]
train_size = 1000
[measure]
jacobian_points = 200
""")
subprocess.run(["occam", "sweep", "run", str(spec), "--store", str(work / "store.sqlite"), "--quiet"],
               check=True, stdout=subprocess.DEVNULL)
trials = occam.Store(work / "store.sqlite").trials()
print(trials[["train.width", "train.seed", "test_accuracy", "jacobian_norm"]])
