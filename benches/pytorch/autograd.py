"""PyTorch reference for benches/autograd.rs (W2 and W6), same machine, 2 threads.

Run: python3 benches/pytorch/autograd.py
"""
import time

import torch


def w2(iters=10_000):
    a, b, c = (torch.randn(4, requires_grad=True) for _ in range(3))
    def once():
        for t in (a, b, c):
            t.grad = None
        y = (a * b + c).tanh().sum()
        y.backward()
        return a.grad, b.grad, c.grad
    for _ in range(1000):
        once()
    t0 = time.perf_counter()
    for _ in range(iters):
        once()
    return (time.perf_counter() - t0) / iters * 1e6


def w6(steps=1000):
    torch.manual_seed(6)
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16), torch.nn.Tanh(),
                                torch.nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(32, 2), torch.randn(32, 1)
    def run(n):
        for _ in range(n):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
    run(100)
    best = []
    for _ in range(5):
        t0 = time.perf_counter()
        run(steps)
        best.append(time.perf_counter() - t0)
    best.sort()
    return steps / best[len(best) // 2], steps / best[0]


if __name__ == "__main__":
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"W2: {min(w2() for _ in range(3)):.1f} us/iter (best of 3 runs of 10k)")
    med, best = w6()
    print(f"W6: median {med:.0f} steps/s (best {best:.0f})")
