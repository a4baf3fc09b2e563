#!/usr/bin/python3
"""Trains the classes in tests/data/classes/ with Debian's python3-torch and
saves what the class tests compare Convscope with:

  <name>-trained.pth            torch.save(model.state_dict()) after one epoch
                                (Adam, lr 1e-3, batch 100, the images / 255)
  <name>-trained-accuracy.txt   PyTorch's count of right answers on the 10,000
                                test images, in eval mode

The files are committed, so CI needs no PyTorch. Run from the project root:
  /usr/bin/python3 tests/make-class-fixtures.py [MODULE ...]
(all of them without a MODULE).
"""
import importlib.util
import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data")
sys.path.insert(0, HERE)
spec = importlib.util.spec_from_file_location("fixtures", os.path.join(HERE, "make-fixtures.py"))
fixtures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fixtures)

CLASSES = [("tutorial_net", "Net"), ("seq_bn_net", "SeqBNNet"), ("small_resnet", "SmallResNet"), ("tied_net", "TiedNet")]


def load_class(module, name):
    path = os.path.join(OUT, "classes", module + ".py")
    spec = importlib.util.spec_from_file_location(module, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, name)


def main():
    torch.set_num_threads(2)
    xs = torch.from_numpy(fixtures.idx("train-images-idx3-ubyte").reshape(-1, 1, 28, 28).astype(np.float32) / 255.0)
    ys = torch.from_numpy(fixtures.idx("train-labels-idx1-ubyte").astype(np.int64))
    wanted = sys.argv[1:]
    for module, name in CLASSES:
        if wanted and module not in wanted:
            continue
        torch.manual_seed(20261202)
        model = load_class(module, name)()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss()
        model.train()
        for batch in torch.randperm(60000).split(100):
            loss = loss_fn(model(xs[batch]), ys[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        torch.save(model.state_dict(), os.path.join(OUT, module + "-trained.pth"))
        correct = fixtures.correct_on_test(model)
        with open(os.path.join(OUT, module + "-trained-accuracy.txt"), "w") as f:
            f.write("%d\n" % correct)
        print(module, name, "keys", list(model.state_dict().keys())[:8], "correct", correct)
    return 0


if __name__ == "__main__":
    sys.exit(main())
