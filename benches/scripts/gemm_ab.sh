#!/bin/bash
# matrixmultiply against tensor's own GEMM, same binary: six processes each, interleaved, each
# printing its best of 10 timings; prints the best and the median of the six (GFLOP/s).
#   cargo build --release --example gemm_gflops && bash benches/scripts/gemm_ab.sh N [t]
n=$1; T=$2
for b in mm ours; do : > /tmp/gemm_ab_$b; done
for i in 1 2 3 4 5 6; do
  BACKPROP_GEMM=matrixmultiply target/release/examples/gemm_gflops $n $T >> /tmp/gemm_ab_mm
  target/release/examples/gemm_gflops $n $T >> /tmp/gemm_ab_ours
done
for b in mm ours; do
  echo "$b n=$n ${T:+transposed}: best $(sort -n /tmp/gemm_ab_$b | tail -1) median $(sort -n /tmp/gemm_ab_$b | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')"
done
