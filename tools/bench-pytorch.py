#!/usr/bin/python3
"""The notebook's models in PyTorch, timed the way `convscope bench` times them.

Debian's python3-torch, the notebook's classes, optimizers and loss, batch 100,
tensors pre-materialised so no data loader is timed: training samples/s over
timed batches after a warm-up, inference images/s at batch 100, latency at
batch 1. One line per figure, in the format of `convscope bench`.
A model may also be a PyTorch source, model.py or model.py:Class, trained
with Adam at lr 1e-3 as `convscope bench` trains a model that is not a preset.
Usage: tools/bench-pytorch.py [--threads 2] [--batches 100] [--models mlp,cnn,lenet5,model.py:Class]
"""
import argparse
import importlib.util
import inspect
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn

from notebook_models import CNN, MLP, LeNet5  # tools/notebook_models.py, beside this script


SEED = {  # the notebook's optimizers
    "mlp": (MLP, lambda p: torch.optim.SGD(p, lr=0.01)),
    "cnn": (CNN, lambda p: torch.optim.Adam(p, lr=0.01)),
    "lenet5": (LeNet5, lambda p: torch.optim.Adam(p)),
}


def source_model(name):
    """model.py or model.py:Class -> (the class, Adam lr 1e-3)."""
    path, _, cls_name = name.partition(":")
    spec = importlib.util.spec_from_file_location("bench_model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    classes = [c for _, c in inspect.getmembers(mod, inspect.isclass)
               if issubclass(c, nn.Module) and c.__module__ == mod.__name__]
    cls = getattr(mod, cls_name) if cls_name else classes[0]
    if not cls_name and len(classes) != 1:
        raise SystemExit("%s has %d nn.Module classes: name one as %s:Class" % (path, len(classes), path))
    return cls, lambda p: torch.optim.Adam(p, lr=1e-3)


def mnist(root, n):
    path = os.path.join(root, "data", "mnist", "train-images-idx3-ubyte")
    labels = os.path.join(root, "data", "mnist", "train-labels-idx1-ubyte")
    if os.path.exists(path):
        with open(path, "rb") as f:
            f.read(16)
            x = np.frombuffer(f.read(n * 784), dtype=np.uint8).reshape(n, 1, 28, 28).astype(np.float32) / 255
        with open(labels, "rb") as f:
            f.read(8)
            y = np.frombuffer(f.read(n), dtype=np.uint8).astype(np.int64)
        return torch.from_numpy(x), torch.from_numpy(y)
    return torch.rand(n, 1, 28, 28), torch.randint(0, 10, (n,))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--models", default="mlp,cnn,lenet5")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    bs, warmup = args.batch_size, 10
    x, y = mnist(root, (warmup + args.batches) * bs)
    batches = [(x[i:i + bs].contiguous(), y[i:i + bs].contiguous()) for i in range(0, len(x), bs)]

    for name in args.models.split(","):
        cls, make_opt = SEED[name] if name in SEED else source_model(name)
        model = cls()
        opt = make_opt(model.parameters())
        loss_fn = nn.CrossEntropyLoss()
        model.train()
        for i, (xb, yb) in enumerate(batches):
            if i == warmup:
                t0 = time.perf_counter()
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sps = args.batches * bs / (time.perf_counter() - t0)
        print("bench framework=pytorch model=%s threads=%d batch=%d train_samples_per_sec=%.0f"
              % (name, args.threads, bs, sps), flush=True)

        model.eval()
        with torch.no_grad():
            xb = batches[0][0]
            for _ in range(3):
                model(xb)
            t0 = time.perf_counter()
            for _ in range(30):
                model(xb)
            ips = 30 * bs / (time.perf_counter() - t0)
            one = xb[:1].contiguous()
            for _ in range(20):
                model(one)
            lat = []
            for _ in range(200):
                t0 = time.perf_counter()
                model(one)
                lat.append((time.perf_counter() - t0) * 1e6)
        lat.sort()
        print("bench framework=pytorch model=%s threads=%d batch=100 infer_images_per_sec=%.0f"
              % (name, args.threads, ips), flush=True)
        print("bench framework=pytorch model=%s threads=%d batch=1 latency_us=%.1f"
              % (name, args.threads, lat[len(lat) // 2]), flush=True)


if __name__ == "__main__":
    main()
