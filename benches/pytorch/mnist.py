"""PyTorch's side of the `mnist` example's comparison: the same models, optimizers, batch size,
pixel scaling and torch-default hyperparameters, timed per epoch (training and test pass).

    python3 benches/pytorch/mnist.py --data /usr/share/datasets/fashion-mnist --model mlp --hidden 256 --epochs 10
"""
import argparse, gzip, os, struct, time

import numpy as np
import torch
from torch import nn


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(d, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    raise FileNotFoundError(stem)


def load(d, split):
    x = read_idx(find(d, f"{split}-images-idx3-ubyte")).astype(np.float32) / 255.0
    y = read_idx(find(d, f"{split}-labels-idx1-ubyte")).astype(np.int64)
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)


def model(args):
    if args.model == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 5 * 5, 10))
    layers, width = [nn.Flatten()], 28 * 28
    for h in args.hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, 10))


def optimizer(args, params):
    lr = args.lr
    o = args.optimizer
    if o in ("sgd", "momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr or 1e-3, momentum=0.0 if o == "sgd" else 0.9, nesterov=o == "nesterov")
    cls = {"adagrad": (torch.optim.Adagrad, 1e-2), "rmsprop": (torch.optim.RMSprop, 1e-2),
           "adam": (torch.optim.Adam, 1e-3), "adamw": (torch.optim.AdamW, 1e-3)}[o]
    return cls[0](params, lr=lr or cls[1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--model", default="mlp")
    p.add_argument("--hidden", default="128")
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    args.hidden = [int(h) for h in args.hidden.split(",")]
    torch.manual_seed(args.seed)
    xtr, ytr = load(args.data, "train")
    xte, yte = load(args.data, "t10k")
    net = model(args)
    opt = optimizer(args, net.parameters())
    loss_fn = nn.CrossEntropyLoss()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        net.train()
        order = torch.randperm(len(xtr))
        total, correct = 0.0, 0
        for i in range(0, len(xtr), args.batch_size):
            ids = order[i : i + args.batch_size]
            x, y = xtr[ids], ytr[ids]
            opt.zero_grad()
            out = net(x)
            loss = loss_fn(out, y)
            loss.backward()
            opt.step()
            total += loss.item() * len(ids)
            correct += (out.argmax(1) == y).sum().item()
        net.eval()
        with torch.no_grad():
            test = sum((net(xte[i : i + 1000]).argmax(1) == yte[i : i + 1000]).sum().item() for i in range(0, len(xte), 1000))
        seconds = time.perf_counter() - start
        print(f"epoch {epoch:>3}: loss {total / len(xtr):.4f}  train {100 * correct / len(xtr):.2f}%  "
              f"test {100 * test / len(xte):.2f}%  {seconds:.1f}s")


if __name__ == "__main__":
    main()
