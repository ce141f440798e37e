#!/bin/bash
# Alternates 1 rank x 2 threads, 2 ranks x 1 thread, 1 rank x 1 thread on the W3 model; prints steps/s.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
EX="target/release/examples/distributed --synthetic 20000 --hidden 512,256 --batch-size 128 --steps 600"
for i in $(seq 1 ${1:-7}); do
  a=$(RAYON_NUM_THREADS=2 $EX | tail -1 | awk '{print $(NF-1)}')
  b=$(mpirun -np 2 -x RAYON_NUM_THREADS=1 $EX | tail -1 | awk '{print $(NF-1)}')
  c=$(RAYON_NUM_THREADS=1 $EX | tail -1 | awk '{print $(NF-1)}')
  echo "$a $b $c $(echo "scale=3; $b/$a" | bc)"
done
