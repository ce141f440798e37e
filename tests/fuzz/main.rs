//! The fuzzer: random programs of 1-8 ops on random tensors, run on `Tensor`, on `Var` and on a
//! naive `f64` reference, op by op.
//!
//! For every op: the `try_` form returns `Ok` exactly where the reference has a result (and an
//! error, never a panic, where it has none); an `Ok` matches the reference's shape, dtype and
//! values (also when run again in an arena of reused buffers); the `Var` form matches it too.
//! After the program, backward from its sum succeeds or is a typed error, and where every op
//! was smooth on bounded f64 values its gradient passes gradcheck.
//!
//! `cargo test --release --test fuzz` runs the default number of cases (about a thousand per
//! property, a few seconds); a long campaign is
//! `PROPTEST_CASES=200000 cargo test --release --test fuzz`; with `FUZZ_STATS=1` (and
//! `-- --nocapture`) it prints, every thousand programs, what ran and what was refused, per op. Failures are shrunk to a minimal
//! program and recorded under `tests/proptest-regressions/main.txt`, which is committed and
//! replayed first on every run.

mod expected;
mod program;
mod reference;
mod strategy;
mod windows;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use autograd::{gradcheck, GradcheckOptions, Tape, Var};
use proptest::prelude::*;
use proptest::test_runner::Config;
use tensor::arena::Arena;
use tensor::{DType, Tensor};

use program::{to_nd, Init, OpSpec};
use reference::Nd;
use strategy::{init, op};

/// The library's values against the reference's: NaN where it has NaN, the same infinities,
/// and within a tolerance that scales with the op's inputs (`scale`) for floats; exact for
/// integers.
fn close(got: &Nd, want: &Nd, scale: f64) -> Result<(), String> {
    if got.shape != want.shape || got.dtype != want.dtype {
        return Err(format!("got {:?} {:?}, want {:?} {:?}", got.dtype, got.shape, want.dtype, want.shape));
    }
    let rtol = match got.dtype {
        DType::F32 => 1e-4,
        DType::F64 => 1e-10,
        _ => 0.0,
    };
    for (i, (&g, &w)) in got.data.iter().zip(&want.data).enumerate() {
        let same = (g.is_nan() && w.is_nan())
            || g == w
            || (g.is_finite() && w.is_finite() && (g - w).abs() <= rtol * (1.0 + w.abs() + scale));
        if !same {
            return Err(format!("element {i}: got {g}, want {w}\n got {:?}\nwant {:?}", got.data, want.data));
        }
    }
    Ok(())
}

/// The same shape, dtype and values, bit for bit (NaNs equal).
fn same_bits(a: &Nd, b: &Nd) -> bool {
    a.shape == b.shape
        && a.dtype == b.dtype
        && a.data.iter().zip(&b.data).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

/// `PROPTEST_CASES` when set (a long campaign), else the default for a normal test run.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// What the campaign exercised, printed with `FUZZ_STATS=1`: programs, ops that ran against
/// the reference, ops refused as the reference refused them, gradchecks.
static STATS: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

fn count(which: usize) {
    STATS[which].fetch_add(1, Ordering::Relaxed);
}

/// Per op kind (the variant's name): how many ran against the reference, how many were
/// refused as it refused them.
static BY_KIND: Mutex<BTreeMap<String, [usize; 2]>> = Mutex::new(BTreeMap::new());

fn count_kind(spec: &OpSpec, refused: bool) {
    if std::env::var_os("FUZZ_STATS").is_some() {
        let name = format!("{spec:?}").split('(').next().unwrap_or_default().to_string();
        BY_KIND.lock().unwrap_or_else(|e| e.into_inner()).entry(name).or_default()[refused as usize] += 1;
    }
}

fn run(init: &Init, ops: &[OpSpec]) -> Result<(), TestCaseError> {
    let result = run_program(init, ops);
    count(0);
    if std::env::var_os("FUZZ_STATS").is_some() && STATS[0].load(Ordering::Relaxed).is_multiple_of(1000) {
        let [p, ok, refused, gc] = STATS.each_ref().map(|s| s.load(Ordering::Relaxed));
        eprintln!("programs {p}: ops checked {ok}, refused as expected {refused}, gradchecks {gc}");
        let kinds = BY_KIND.lock().unwrap_or_else(|e| e.into_inner());
        let line: Vec<String> = kinds.iter().map(|(k, [ok, no])| format!("{k} {ok}/{no}")).collect();
        eprintln!("  checked/refused by op: {}", line.join(", "));
    }
    result
}

fn run_program(init: &Init, ops: &[OpSpec]) -> Result<(), TestCaseError> {
    let (x0, r0) = init.build();
    prop_assert_eq!(&to_nd(&x0), &r0, "the starting view holds the reference's values");
    let tape = Tape::new();
    let v0 = if x0.dtype().is_float() { tape.var(x0.clone()) } else { tape.input(x0.clone()) };
    let (mut t, mut v) = (x0.clone(), v0.clone());
    let mut applied: Vec<OpSpec> = Vec::new();
    let mut smooth = x0.dtype() == DType::F64 && x0.numel() > 0;
    for (step, spec) in ops.iter().enumerate() {
        // Each op is checked on the library's own previous result, so f32 rounding does not
        // compound along the program.
        let input = to_nd(&t);
        let want = spec.reference(&input);
        if let Some(w) = &want {
            if !w.is_float() && w.max_abs() > 2f64.powi(52) {
                break; // integer overflow territory: the reference is no longer exact
            }
        }
        let (got_t, got_v) = (spec.tensor(&t), spec.var(&v));
        match (want, got_t, got_v) {
            (None, Err(_), Err(_)) => {
                count(2);
                count_kind(spec, true);
            }
            (Some(w), Ok(gt), Ok(gv)) => {
                // The op again in an arena holding the buffers of a first run: a kernel that
                // assumed a fresh (zeroed) buffer would now read stale values.
                let mut arena = Arena::new();
                arena.enter(|| drop(spec.tensor(&t)));
                let again = arena.enter(|| spec.tensor(&t)).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(
                    same_bits(&to_nd(&again), &to_nd(&gt)),
                    "step {step} {spec:?}: in a reused arena {:?}, fresh {:?}",
                    to_nd(&again).data,
                    to_nd(&gt).data
                );
                let scale = input.max_abs() * (1.0 + input.data.len() as f64).sqrt();
                if let Err(e) = close(&to_nd(&gt), &w, scale) {
                    return Err(TestCaseError::fail(format!("step {step} {spec:?}: {e}")));
                }
                // Composite Var ops (std, norm) round differently from the fused tensor kernels,
                // so the Var form is held to the reference on its own input, not to bitwise
                // equality with the Tensor form.
                let v_input = to_nd(&v.tensor());
                let w_v =
                    spec.reference(&v_input).ok_or_else(|| TestCaseError::fail("the Var input differs in kind"))?;
                let v_scale = v_input.max_abs() * (1.0 + v_input.data.len() as f64).sqrt();
                if let Err(e) = close(&to_nd(&gv.tensor()), &w_v, v_scale) {
                    return Err(TestCaseError::fail(format!("step {step} {spec:?}, Var form: {e}")));
                }
                smooth &= spec.smooth() && w.data.iter().all(|v| v.is_finite()) && w.max_abs() < 20.0;
                applied.push(spec.clone());
                count(1);
                count_kind(spec, false);
                (t, v) = (gt, gv);
            }
            (want, got_t, got_v) => {
                return Err(TestCaseError::fail(format!(
                    "step {step} {spec:?} on {:?} {:?}: reference {}, Tensor {:?}, Var {:?}",
                    input.dtype,
                    input.shape,
                    if want.is_some() { "has a result" } else { "refuses" },
                    got_t.map(|t| t.shape().to_vec()),
                    got_v.map(|v| v.shape().to_vec()),
                )))
            }
        }
    }
    // Backward from the sum: a result or a typed error, whatever the program was.
    if let Ok(total) = v.try_sum(&[], false) {
        let _ = total.backward();
    }
    if smooth && !applied.is_empty() && t.numel() > 0 {
        let program =
            |xs: &[Var]| -> autograd::Result<Var> { applied.iter().try_fold(xs[0].clone(), |v, spec| spec.var(&v)) };
        count(3);
        let report = gradcheck(&program, &[x0], GradcheckOptions::default())
            .map_err(|e| TestCaseError::fail(format!("gradcheck errored: {e}")))?;
        prop_assert!(report.ok, "gradcheck of {applied:?}: {report}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(Config { cases: cases(5000), ..Config::default() })]

    #[test]
    fn random_programs_match_the_reference(init in init(), ops in prop::collection::vec(op(), 1..9)) {
        run(&init, &ops)?;
    }
}

proptest! {
    #![proptest_config(Config { cases: cases(500), ..Config::default() })]

    /// Dimensions far past memory: views of them are fine, anything that would materialise
    /// them is a typed error, and nothing panics or aborts.
    #[test]
    fn huge_dimensions_are_errors_or_views(
        big in prop::sample::select(vec![1usize << 40, 1 << 62, isize::MAX as usize]),
        which in 0u8..9,
    ) {
        // 2^40 elements fit an address space but not this machine: the allocator refuses them
        // under Linux's default overcommit policy, not under "always" (mode 1).
        let always_overcommits = std::fs::read_to_string("/proc/sys/vm/overcommit_memory").map_or(true, |m| m.trim() == "1");
        let big = if big == 1 << 40 && always_overcommits { 1 << 62 } else { big };
        let one = Tensor::ones(&[1, 1], DType::F32);
        let wide = one.try_expand(&[1, big as isize]);
        let outcome: Result<Tensor, tensor::TensorError> = match which {
            0 => Tensor::try_zeros(&[big, big], DType::F32),
            1 => Tensor::try_full(&[big], 2.0, DType::F64),
            2 => wide.and_then(|w| w.try_exp()),
            3 => one.try_expand(&[big as isize, 1]).and_then(|t| t.try_add(&one.try_expand(&[1, big as isize])?)),
            4 => one.try_repeat(&[big, 3]),
            5 => one.try_reshape(&[big as isize, -1]),
            6 => Tensor::from_vec(vec![0i64], &[1]).try_one_hot(big, DType::F32),
            7 => one.try_expand(&[big as isize, 1]).and_then(|t| t.try_matmul(&one.try_expand(&[1, big as isize])?)),
            _ => Tensor::try_cat(&[one.try_expand(&[1, big as isize])?, one.clone()], 1),
        };
        prop_assert!(outcome.is_err(), "case {which} with {big}: {outcome:?}");
    }
}
