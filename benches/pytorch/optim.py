"""PyTorch reference for benches/optim.rs (W4 and the other optimizers on 10M parameters),
same machine, 2 threads: median of 20 steps after 3 warm-up steps.

Run: python3 benches/pytorch/optim.py
"""
import statistics
import time

import torch

N = 10_000_000


def timed(opt, reps=20):
    for _ in range(3):
        opt.step()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def params(sizes):
    torch.manual_seed(4)
    ps = [torch.randn(n, requires_grad=True) for n in sizes]
    for p in ps:
        p.grad = torch.randn(p.shape) * 1e-3
    return ps


def main():
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for label, sizes in [("w4a 1 x 10M", [N]), ("w4b 100 x 100k", [100_000] * 100)]:
        for variant in ["default", "foreach", "fused"]:
            kwargs = {"default": dict(foreach=False), "foreach": dict(foreach=True), "fused": dict(fused=True)}[variant]
            ms = timed(torch.optim.Adam(params(sizes), **kwargs))
            gibs = 28 * sum(sizes) / (ms / 1e3) / 2**30
            print(f"Adam {label} {variant:8s}: {ms:8.3f} ms  ({gibs:5.1f} GiB/s at 28 B/param)")
    for name, make in [
        ("SGD momentum", lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, foreach=False)),
        ("RMSprop", lambda ps: torch.optim.RMSprop(ps, foreach=False)),
        ("Adagrad", lambda ps: torch.optim.Adagrad(ps, foreach=False)),
    ]:
        ms = timed(make(params([N])))
        print(f"{name} 10M default: {ms:8.3f} ms  ({20 * N / (ms / 1e3) / 2**30:5.1f} GiB/s at 20 B/param)")


if __name__ == "__main__":
    main()
