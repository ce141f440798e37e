//! Heap allocations of a replayed compiled step, counted by a global allocator that counts.
//! (Its own test binary: the counting allocator is process-wide.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use autograd::{compile, Param, Var};
use tensor::{DType, Rng, Tensor};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn counted<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
    let (a, b) = (ALLOCATIONS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
    let r = f();
    (r, ALLOCATIONS.load(Ordering::Relaxed) - a, BYTES.load(Ordering::Relaxed) - b)
}

/// The W6 step (2-16-16-1 tanh MLP, batch 32, f32). After the first run, the plan's arena
/// serves the data buffers and tensor headers of its intermediate values, and GEMM packs into
/// per-thread scratch (tensor's own kernels, where the CPU has AVX2 and FMA). What a replayed
/// step still allocates (38 allocations, 4.7 KB when this was written) is what leaves it (the
/// loss and the six gradients: buffers, headers, the `Gradients` map), the headers of views
/// (permute, reshape), and the executor's own small vectors. The goal (issue: compile) is no
/// allocation at all, which needs outputs written into the caller's previous step and view
/// headers from the arena.
#[test]
fn a_replayed_step_reuses_its_data_buffers() {
    let mut rng = Rng::seed(6);
    let shapes: [&[usize]; 6] = [&[2, 16], &[16], &[16, 16], &[16], &[16, 1], &[1]];
    let params: Vec<Param> = shapes.iter().map(|s| Param::new(Tensor::randn(s, DType::F32, &mut rng))).collect();
    let mut step = compile(|xs: &[Var]| {
        let tape = xs[0].tape();
        let w: Vec<Var> = params.iter().map(|p| tape.param(p)).collect();
        let h = xs[0].matmul(&w[0]).add(&w[1]).tanh();
        let h = h.matmul(&w[2]).add(&w[3]).tanh();
        Ok((h.matmul(&w[4]).add(&w[5]) - &xs[1]).square().mean_all())
    })
    .with_grads();
    let batch = [Tensor::randn(&[32, 2], DType::F32, &mut rng), Tensor::randn(&[32, 1], DType::F32, &mut rng)];
    step.run(&batch).unwrap();
    step.run(&batch).unwrap();
    let (_, arena_allocations, arena_bytes) = counted(|| step.run(&batch).unwrap());
    // The same program run without the arena: every value gets a fresh buffer.
    let program = step.plan(&batch).unwrap().program().clone();
    program.run(&batch).unwrap();
    let (_, plain_allocations, plain_bytes) = counted(|| program.run(&batch).unwrap());
    eprintln!(
        "a replayed W6 step: {arena_allocations} allocations, {arena_bytes} bytes in its arena; \
         {plain_allocations} allocations, {plain_bytes} bytes without"
    );
    // The values computed are 40 nodes, over 20 KB of f32 data ([32, 16] activations and
    // their gradients); the arena saves all but what leaves the step.
    assert!(plain_bytes - arena_bytes > 16 * 1024, "the arena saved {} bytes", plain_bytes - arena_bytes);
    assert!(arena_allocations + 30 <= plain_allocations, "{arena_allocations} against {plain_allocations}");
    // Where it stands: a regression guard, not the goal. (matrixmultiply, the fallback off
    // AVX2, allocates its packing scratch in every call: about ten more.)
    assert!(arena_allocations <= 55, "{arena_allocations} allocations in one replayed step");
}
