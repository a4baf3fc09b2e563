#!/usr/bin/python3
"""Makes the PyTorch fixtures of the checkpoint tests with Debian's python3-torch.

The files it writes are committed, so CI needs no PyTorch:
  lenet5-notebook.pth           torch.save(LeNet5().state_dict()) -- the notebook's own class and call
  lenet5-notebook-logits.txt    what PyTorch computes for the first 16 MNIST test images
  mlp-strided.pth           an MLP state_dict whose tensors are views (storage offsets, strides)
  mlp-strided-logits.txt
  lenet5-trained.pth        the notebook's LeNet5 after one epoch of the notebook's training loop (Adam, batch 100)
  lenet5-trained-accuracy.txt  PyTorch's count of correct test predictions for it
  lenet5-legacy.pth         the pre-1.6 format, which Convscope refuses with advice
  evil-os-system.pth        a zip whose pickle calls os.system: must be refused, never run

It also checks the way back:
  make-fixtures.py --check-safetensors FILE --correct N
loads a safetensors file Convscope wrote into the notebook's LeNet5 with a small numpy reader
and load_state_dict (strict), and checks that PyTorch gets the same N test images right
that `convscope predict --checkpoint FILE --test` reports.

Run from the project root with Debian's Python:  /usr/bin/python3 tests/make-fixtures.py
"""
import io
import json
import os
import struct
import sys
import zipfile

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data")
MNIST = os.path.join(HERE, "..", "data", "mnist", "t10k-images-idx3-ubyte")

sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from notebook_models import MLP, LeNet5  # noqa: E402  (the notebook's classes, one copy)


def idx(name, n=None):
    path = os.path.join(HERE, "..", "data", "mnist", name)
    with open(path, "rb") as f:
        magic = struct.unpack(">I", f.read(4))[0]
        dims = struct.unpack(">" + "I" * (magic & 0xff), f.read(4 * (magic & 0xff)))
        count = dims[0] if n is None else n
        size = int(np.prod(dims[1:])) if len(dims) > 1 else 1
        return np.frombuffer(f.read(count * size), dtype=np.uint8).reshape((count,) + tuple(dims[1:]))


def test_images(n=16):
    return torch.from_numpy(idx("t10k-images-idx3-ubyte", n).reshape(n, 1, 28, 28).astype(np.float32) / 255.0)


def correct_on_test(model):
    x = torch.from_numpy(idx("t10k-images-idx3-ubyte").reshape(-1, 1, 28, 28).astype(np.float32) / 255.0)
    y = torch.from_numpy(idx("t10k-labels-idx1-ubyte").astype(np.int64))
    model.eval()
    with torch.no_grad():
        return int(sum((model(x[i:i + 100]).argmax(1) == y[i:i + 100]).sum() for i in range(0, 10000, 100)))


def write_logits(path, logits):
    with open(path, "w") as f:
        for row in logits.tolist():
            f.write(" ".join("%.9g" % v for v in row) + "\n")


def read_safetensors(path):
    """A small numpy reader: the format is 8 bytes of header length, JSON, data."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32"
        begin, end = info["data_offsets"]
        arr = np.frombuffer(raw[base + begin:base + end], dtype="<f4").reshape(info["shape"])
        tensors[name] = torch.from_numpy(arr.copy())
    return tensors, header.get("__metadata__", {})


def check_way_back(st_path, correct):
    tensors, meta = read_safetensors(st_path)
    model = LeNet5()
    model.load_state_dict(tensors)  # strict: every key and shape must match the notebook's class
    got = correct_on_test(model)
    print("PyTorch loaded %s into the notebook's LeNet5 (%d tensors, metadata %s): %d of 10000 test images right; "
          "Convscope said %d: %s" % (st_path, len(tensors), sorted(meta), got, correct,
                                     "agree" if got == correct else "DISAGREE"))
    return 0 if got == correct else 1


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--check-safetensors" and sys.argv[3] == "--correct":
        return check_way_back(sys.argv[2], int(sys.argv[4]))
    torch.set_num_threads(2)

    torch.manual_seed(20240129)
    os.makedirs(OUT, exist_ok=True)
    x = test_images()

    # The notebook's own call, on the notebook's own class.
    model = LeNet5()
    model.eval()
    torch.save(model.state_dict(), os.path.join(OUT, "lenet5-notebook.pth"))
    with torch.no_grad():
        write_logits(os.path.join(OUT, "lenet5-notebook-logits.txt"), model(x))

    # Views: a weight taken every other row of a larger tensor, a bias from the middle of one.
    mlp = MLP()
    mlp.eval()
    big_w = torch.randn(20, 784) * 0.05
    big_b = torch.randn(30) * 0.1
    sd = mlp.state_dict()
    sd["layer2.weight"] = big_w[::2]          # stride (1568, 1)
    sd["layer2.bias"] = big_b[7:17]           # storage offset 7
    sd["layer1.weight"] = sd["layer1.weight"].t().contiguous().t()  # column-major: stride (1, 784)
    assert sd["layer1.weight"].stride() == (1, 784)
    torch.save(sd, os.path.join(OUT, "mlp-strided.pth"))
    mlp.load_state_dict(sd)
    with torch.no_grad():
        write_logits(os.path.join(OUT, "mlp-strided-logits.txt"), mlp(x))

    torch.save(model.state_dict(), os.path.join(OUT, "lenet5-legacy.pth"), _use_new_zipfile_serialization=False)

    # One epoch of the notebook's own training cell, then the notebook's torch.save.
    xs = torch.from_numpy(idx("train-images-idx3-ubyte").reshape(-1, 1, 28, 28).astype(np.float32) / 255.0)
    ys = torch.from_numpy(idx("train-labels-idx1-ubyte").astype(np.int64))
    trained = LeNet5()
    optimizer = torch.optim.Adam(trained.parameters())
    loss_fn = nn.CrossEntropyLoss()
    trained.train()
    for batch in torch.randperm(60000).split(100):
        loss = loss_fn(trained(xs[batch]), ys[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.save(trained.state_dict(), os.path.join(OUT, "lenet5-trained.pth"))
    with open(os.path.join(OUT, "lenet5-trained-accuracy.txt"), "w") as f:
        f.write("%d\n" % correct_on_test(trained))

    # A hostile file: a torch-style zip whose pickle would run os.system("touch ...").
    evil = (b"\x80\x02cos\nsystem\nq\x00X\x2a\x00\x00\x00touch /tmp/convscope-pickle-was-executed!!"
            b"q\x01\x85q\x02Rq\x03.")
    evil = evil.replace(b"X\x2a\x00\x00\x00", b"X" + struct.pack("<I", len(b"touch /tmp/convscope-pickle-was-executed!!")))
    with zipfile.ZipFile(os.path.join(OUT, "evil-os-system.pth"), "w", zipfile.ZIP_STORED) as z:
        z.writestr("evil/data.pkl", evil)
        z.writestr("evil/version", "3\n")
    print("fixtures written to", OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
