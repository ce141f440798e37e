#!/usr/bin/env python3
"""Data-parallel scaling of the W3 step on paper: the ring all-reduce cost model with the
measured gradient size and per-example compute time (BENCHMARKS.md, "distributed").

  python3 benches/scripts/distributed_scaling.py STEPS_PER_S_AT_128 [AVERAGE_MS_LOCAL]

Per step and rank, a ring all-reduce (and backprop's all-to-all + all-gather) moves
2 (N-1)/N of the gradient bytes and pays 2 (N-1) message latencies. The step is compute for
B/N examples plus that, with no overlap of the two.
"""
import sys

GRAD_BYTES = 535_818 * 4          # W3: 784-512-256-10, f32 (measured: the averager's bucket)
steps_per_s = float(sys.argv[1])   # one machine, batch 128, measured
local_ms = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0  # the averager's copies at N=1
per_example_ms = 1e3 / steps_per_s / 128
NETWORKS = {"10 Gb/s (TCP, latency 25 us)": (10e9 / 8, 25e-6), "100 Gb/s (RDMA, latency 3 us)": (100e9 / 8, 3e-6)}

print(f"per-example compute {per_example_ms * 1e3:.1f} us, gradient {GRAD_BYTES / 1e6:.2f} MB\n")
print("| network | machines | bytes per rank per step | communication (ms) | step at global batch 128 (ms) | speed-up vs 1 machine | per-machine batch below which communication dominates |")
print("|---|---|---|---|---|---|---|")
for name, (bandwidth, latency) in NETWORKS.items():
    for n in (8, 64):
        moved = 2 * (n - 1) / n * GRAD_BYTES
        comm_ms = (moved / bandwidth + 2 * (n - 1) * latency) * 1e3 + local_ms
        step_ms = per_example_ms * 128 / n + comm_ms
        speedup = per_example_ms * 128 / step_ms
        print(f"| {name} | {n} | {moved / 1e6:.2f} MB | {comm_ms:.2f} | {step_ms:.2f} | {speedup:.2f}x | {comm_ms / per_example_ms:.0f} (global {n * comm_ms / per_example_ms:.0f}) |")
