//! Heap allocations of a replayed compiled step, counted by a global allocator that counts.
//! (Its own test binary: the counting allocator is process-wide.)
//!
//! Only the measuring thread's allocations count: the test harness allocates on its own
//! threads meanwhile (starting tests, printing results). The steps measured here are below
//! every parallel threshold, so all of their work runs on the calling thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use autograd::{compile, Compiled, Param, Step, Var};
use tensor::{DType, Rng, Tensor};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this thread's allocations are being counted.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn count(bytes: usize) {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(bytes, Ordering::Relaxed);
    }
}

// SAFETY: every call forwards to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The counters are process-wide: the tests of this binary take turns.
static SERIAL: Mutex<()> = Mutex::new(());

fn counted<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
    let (a, b) = (ALLOCATIONS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, ALLOCATIONS.load(Ordering::Relaxed) - a, BYTES.load(Ordering::Relaxed) - b)
}

/// Whether matmul runs on tensor's own GEMM, which packs into per-thread scratch. Its fallback
/// (matrixmultiply, off AVX2 and FMA) allocates its packing buffers in every call.
fn own_gemm() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::env::var("BACKPROP_GEMM").map_or(true, |v| v != "matrixmultiply")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The W6 step (2-16-16-1 tanh MLP, batch 32, f32), compiled with its gradients.
fn w6_step(params: &[Param]) -> Compiled<impl Fn(&[Var]) -> autograd::Result<Var> + '_> {
    compile(move |xs: &[Var]| {
        let tape = xs[0].tape();
        let w: Vec<Var> = params.iter().map(|p| tape.param(p)).collect();
        let h = xs[0].matmul(&w[0]).add(&w[1]).tanh();
        let h = h.matmul(&w[2]).add(&w[3]).tanh();
        Ok((h.matmul(&w[4]).add(&w[5]) - &xs[1]).square().mean_all())
    })
    .with_grads()
}

fn w6_params(rng: &mut Rng) -> Vec<Param> {
    let shapes: [&[usize]; 6] = [&[2, 16], &[16], &[16, 16], &[16], &[16, 1], &[1]];
    shapes.iter().map(|s| Param::new(Tensor::randn(s, DType::F32, rng))).collect()
}

/// After the first run, a replayed step allocates nothing: the elementwise nodes write into
/// the plan's buffers, the other kernels take their buffers and tensor headers (views'
/// included) from the plan's arena, GEMM packs into per-thread scratch, and `run_into` refills
/// the caller's `Step` in place.
#[test]
fn a_replayed_step_allocates_nothing() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = Rng::seed(6);
    let params = w6_params(&mut rng);
    let mut step = w6_step(&params);
    let mut run = |batch: &[Tensor], out: &mut Step| step.run_into(batch, out).unwrap();
    let batch = [Tensor::randn(&[32, 2], DType::F32, &mut rng), Tensor::randn(&[32, 1], DType::F32, &mut rng)];
    let mut out = Step::default();
    run(&batch, &mut out);
    run(&batch, &mut out);
    let (_, allocations, bytes) = counted(|| run(&batch, &mut out));
    eprintln!("a replayed W6 step: {allocations} allocations, {bytes} bytes");
    if own_gemm() {
        assert_eq!(allocations, 0, "{bytes} bytes");
    } else {
        assert!(allocations <= 12, "{allocations} allocations in one replayed step");
    }
    // The SGD update between steps, in place (nothing else holds a parameter's buffer once
    // the run is over): still nothing allocated.
    let (_, allocations, _) = counted(|| {
        for p in &params {
            let g = out.grads.param(p).unwrap().as_slice::<f32>().unwrap();
            p.update(|w| {
                for (v, &d) in w.try_as_mut_slice::<f32>().unwrap().iter_mut().zip(g) {
                    *v -= 0.1 * d;
                }
            });
        }
        run(&batch, &mut out);
    });
    if own_gemm() {
        assert_eq!(allocations, 0);
    }
}

/// W2: `((a*b + c).tanh()).sum()` and its input gradients: nothing allocated either.
#[test]
fn a_replayed_tiny_graph_allocates_nothing() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = Rng::seed(2);
    let inputs: Vec<Tensor> = (0..3).map(|_| Tensor::randn(&[4], DType::F32, &mut rng)).collect();
    let mut f = compile(|xs: &[Var]| Ok((&xs[0] * &xs[1] + &xs[2]).tanh().sum(&[0], false))).with_input_grads();
    let mut out = Step::default();
    f.run_into(&inputs, &mut out).unwrap();
    f.run_into(&inputs, &mut out).unwrap();
    let (_, allocations, bytes) = counted(|| f.run_into(&inputs, &mut out).unwrap());
    assert_eq!(allocations, 0, "{bytes} bytes");
}

/// `run` hands out new vectors, a new gradient map and tensors the caller frees; the data
/// buffers of the rest still come from the plan. The same program run by `Function::run`,
/// without the plan, recycles its small buffers through `tensor::spares` instead.
#[test]
fn a_replayed_step_reuses_its_data_buffers() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = Rng::seed(6);
    let params = w6_params(&mut rng);
    let mut step = w6_step(&params);
    let batch = [Tensor::randn(&[32, 2], DType::F32, &mut rng), Tensor::randn(&[32, 1], DType::F32, &mut rng)];
    step.run(&batch).unwrap();
    step.run(&batch).unwrap();
    let (_, arena_allocations, arena_bytes) = counted(|| step.run(&batch).unwrap());
    let program = step.plan(&batch).unwrap().program().clone();
    program.run(&batch).unwrap();
    let (_, plain_allocations, plain_bytes) = counted(|| program.run(&batch).unwrap());
    eprintln!(
        "a replayed W6 step: {arena_allocations} allocations, {arena_bytes} bytes through `run`; \
         {plain_allocations} allocations, {plain_bytes} bytes without the plan"
    );
    // The values computed are 37 nodes, over 20 KB of f32 data ([32, 16] activations and
    // their gradients): both ways reuse all but a few small buffers (matrixmultiply, the
    // fallback GEMM, allocates its packing buffers in every call).
    if own_gemm() {
        assert!(arena_bytes < 4 * 1024, "{arena_bytes} bytes through `run`");
        assert!(plain_bytes < 4 * 1024, "{plain_bytes} bytes without the plan");
        // What `run` hands out and the caller frees outside the plan's arena (the gradients
        // computed by matmul, their views' headers), the step's vectors and the gradient map:
        // 14 when this was written. `run_into` saves them all (the test above).
        assert!(arena_allocations <= 32, "{arena_allocations} allocations through `run`");
    }
}
