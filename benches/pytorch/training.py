"""PyTorch's side of benches/training.rs: W3 and W5 training steps (median over 200 steps
after 20 warm-up), same shapes, optimizers and thread count as the criterion benches.

    python3 benches/pytorch/training.py
"""
import statistics, time

import torch
from torch import nn


def steps(name, net, opt, x, y, n=200, warmup=20):
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for i in range(warmup + n):
        t = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    print(f"{name}: median {1e3 * statistics.median(times):.3f} ms/step")


def main():
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    steps("w3_mlp_adam_step", mlp, torch.optim.Adam(mlp.parameters(), lr=1e-3),
          torch.randn(128, 784), torch.randint(0, 10, (128,)))
    cnn = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 10))
    steps("w5_cnn_momentum_step", cnn, torch.optim.SGD(cnn.parameters(), lr=0.01, momentum=0.9),
          torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,)))


if __name__ == "__main__":
    main()
