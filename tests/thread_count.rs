//! Every kernel gives the same bits on any number of threads: work is cut into pieces that
//! depend on the shapes only (conv chunks of samples, fixed reduction chunks merged in order,
//! GEMM blocks that partition the output), never on the thread count. PyTorch promises this
//! only under `use_deterministic_algorithms`; here it is the default.

use backprop::nn::{Conv2d, Flatten, MaxPool2d};
use backprop::prelude::*;

/// Runs `f` on a rayon pool of `threads` threads.
fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool");
    pool.install(f)
}

/// The bit patterns of a tensor's values, so that comparisons are exact (and NaN-safe).
fn bits(t: &Tensor) -> Vec<u64> {
    t.to_dtype(DType::F64).to_vec::<f64>().into_iter().map(f64::to_bits).collect()
}

/// Three momentum-SGD steps of W5's CNN on a batch of 32: conv (forward, both gradients),
/// ReLU, max-pool (forward, backward), linear, cross-entropy, the reductions of the bias
/// gradients and the mean, and the update. Returns the losses and the final parameters.
fn cnn_steps() -> Vec<Vec<u64>> {
    let mut rng = Rng::seed(5);
    let net = Sequential::new()
        .add(Conv2d::new(1, 32, [3, 3], &mut rng))
        .add(Relu)
        .add(MaxPool2d::new(2))
        .add(Conv2d::new(32, 64, [3, 3], &mut rng))
        .add(Relu)
        .add(MaxPool2d::new(2))
        .add(Flatten::batch())
        .add(Linear::new(1600, 10, &mut rng));
    let x = Tensor::randn(&[32, 1, 28, 28], DType::F32, &mut rng);
    let y = Tensor::randint(&[32], 0, 10, &mut rng);
    let mut opt = Optim::new(net.parameters(), Sgd { lr: 0.01, momentum: 0.9, ..Sgd::default() }).unwrap();
    let tape = Tape::new();
    let mut out = Vec::new();
    for _ in 0..3 {
        tape.clear();
        let loss = cross_entropy(&net.forward(&tape.constant(x.clone())).unwrap(), &y, Reduction::Mean).unwrap();
        out.push(bits(loss.value()));
        opt.step(&loss.backward().unwrap()).unwrap();
    }
    out.extend(net.parameters().iter().map(|p| bits(&p.value())));
    out
}

#[test]
fn a_cnn_training_step_is_bit_identical_on_1_2_and_4_threads() {
    let one = on_threads(1, cnn_steps);
    assert_eq!(one, on_threads(2, cnn_steps), "1 vs 2 threads");
    assert_eq!(one, on_threads(4, cnn_steps), "1 vs 4 threads");
}

/// Large kernels outside the CNN: a GEMM cut into blocks, full and partial reductions of a
/// million elements, softmax and log-softmax with their gradients, in f32 and f64.
fn kernels(dtype: DType) -> Vec<Vec<u64>> {
    let mut rng = Rng::seed(9);
    let a = Tensor::randn(&[300, 517], dtype, &mut rng);
    let b = Tensor::randn(&[517, 301], dtype, &mut rng);
    let big = Tensor::randn(&[1 << 20], dtype, &mut rng);
    let tall = Tensor::randn(&[4096, 64], dtype, &mut rng);
    let logits = Tensor::randn(&[512, 1000], dtype, &mut rng);
    let tape = Tape::new();
    let z = tape.var(logits);
    let loss = (z.softmax(-1) * z.log_softmax(-1)).sum_all();
    let dz = loss.backward().unwrap().get(&z).unwrap().clone();
    [
        a.matmul(&b),
        b.t().matmul(&a.t()),
        big.sum_all(),
        big.mean(&[], false),
        tall.sum(&[0], false),
        tall.t().sum(&[1], false),
        tall.max(&[0], false),
        loss.tensor(),
        dz,
    ]
    .iter()
    .map(bits)
    .collect()
}

#[test]
fn gemm_reductions_and_softmax_are_bit_identical_on_1_2_and_4_threads() {
    for dtype in [DType::F32, DType::F64] {
        let one = on_threads(1, || kernels(dtype));
        assert_eq!(one, on_threads(2, || kernels(dtype)), "{dtype}: 1 vs 2 threads");
        assert_eq!(one, on_threads(4, || kernels(dtype)), "{dtype}: 1 vs 4 threads");
    }
}
