//! Peak memory of a W3 training step (MLP 784-512-256-10, ReLU, cross-entropy, batch 128,
//! Adam), eager against compiled with its optimizer, counted by a global allocator that tracks
//! the bytes alive in the whole process. (Its own test binary, with one test: the counters are
//! process-wide.)
//!
//! Both counts include everything a training loop holds at its peak: the parameters, Adam's
//! moments, the step's values, and the buffers kept for the next step (the large-buffer cache
//! in eager mode; the plan's buffers and arena when compiled).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use backprop::nn::Flatten;
use backprop::prelude::*;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call forwards to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        grew(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn w3() -> (Sequential, Optim<Adam>, [Tensor; 2]) {
    let mut rng = Rng::seed(3);
    let net = Sequential::new()
        .add(Flatten::batch())
        .add(Linear::new(784, 512, &mut rng))
        .add(Relu)
        .add(Linear::new(512, 256, &mut rng))
        .add(Relu)
        .add(Linear::new(256, 10, &mut rng));
    let opt = Optim::new(net.parameters(), Adam { lr: 1e-3, ..Adam::default() }).expect("valid Adam");
    let batch = [Tensor::randn(&[128, 784], DType::F32, &mut rng), Tensor::randint(&[128], 0, 10, &mut rng)];
    (net, opt, batch)
}

/// The most bytes alive at once during `f`.
fn peak_during(f: impl FnOnce()) -> usize {
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed)
}

/// The peak of the third step, with nothing left from a run before (so both start alike).
fn eager_peak() -> usize {
    tensor::pool::clear();
    let before = LIVE.load(Ordering::Relaxed);
    let (net, mut opt, [x, y]) = w3();
    let tape = Tape::new();
    let mut step = || {
        tape.clear();
        let loss = cross_entropy(&net.forward(&tape.constant(x.clone())).unwrap(), &y, Reduction::Mean).unwrap();
        opt.step(&loss.backward().unwrap()).unwrap();
    };
    step();
    step();
    peak_during(step) - before
}

fn compiled_peak() -> usize {
    tensor::pool::clear();
    let before = LIVE.load(Ordering::Relaxed);
    let (net, mut opt, batch) = w3();
    let mut train_step = autograd::compile(|xs: &[Var]| cross_entropy(&net.forward(&xs[0])?, &xs[1], Reduction::Mean))
        .with_optimizer(&mut opt);
    let mut step = || {
        train_step.run(&batch).unwrap();
    };
    step();
    step();
    peak_during(step) - before
}

#[test]
fn a_compiled_w3_step_peaks_no_higher_than_the_eager_one() {
    let eager = eager_peak();
    let compiled = compiled_peak();
    let mb = |b: usize| b as f64 / 1e6;
    eprintln!("W3 step peak: eager {:.2} MB, compiled {:.2} MB", mb(eager), mb(compiled));
    assert!(compiled <= eager, "compiled {:.2} MB, eager {:.2} MB", mb(compiled), mb(eager));
}
