"""PyTorch reference for benches/tensor_ops.rs: the same workloads on the same machine.

Run: python3 benches/pytorch/tensor_ops.py   (prints median and min per workload)
"""
import time

import torch
import torch.nn.functional as F


def bench(fn, repeat=30, warmup=5):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2], times[0]


def main():
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    for threads in (2, 1):
        torch.set_num_threads(threads)
        sizes = (256, 512, 1024) if threads == 2 else (1024,)
        for n in sizes:
            a, b = torch.randn(n, n), torch.randn(n, n)
            med, best = bench(lambda: a @ b, repeat=20)
            print(f"gemm n={n} threads={threads}: median {2 * n**3 / med / 1e9:.1f} GFLOP/s "
                  f"(best {2 * n**3 / best / 1e9:.1f})")
            bt = b.t()
            med, best = bench(lambda: a @ bt, repeat=20)
            print(f"gemm n={n} threads={threads} b transposed: median {2 * n**3 / med / 1e9:.1f} GFLOP/s")
    torch.set_num_threads(2)
    n = 10_000_000
    x, y = torch.randn(n), torch.randn(n)
    for name, fn, nbytes in [("add", lambda: x + y, 12 * n), ("exp", lambda: torch.exp(x), 8 * n),
                             ("sum", lambda: x.sum(), 4 * n)]:
        med, best = bench(fn)
        print(f"{name} 10M f32: median {med * 1e3:.2f} ms = {nbytes / med / 1e9:.1f} GB/s")
    for name, xs, ws in [("conv1", (64, 1, 28, 28), (32, 1, 3, 3)), ("conv2", (64, 32, 13, 13), (64, 32, 3, 3))]:
        xx, ww, bb = torch.randn(*xs), torch.randn(*ws), torch.randn(ws[0])
        med, best = bench(lambda: F.conv2d(xx, ww, bb))
        print(f"conv2d {name} {xs} * {ws}: median {med * 1e3:.3f} ms (best {best * 1e3:.3f})")


if __name__ == "__main__":
    with torch.no_grad():
        main()
