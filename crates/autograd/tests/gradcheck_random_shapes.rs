//! gradcheck on random shapes: broadcasting binary ops, reductions over random axis sets,
//! matmul of random sizes and batch shapes, softmax along a random axis.
//!
//! Only smooth ops here: with unseeded random data a max/maximum tie within the finite
//! difference step would make a run fail by chance. Those ops are checked in the seeded table.

use autograd::{gradcheck, GradcheckOptions, Var};
use proptest::prelude::*;
use tensor::{DType, Rng, Tensor};

fn rand(shape: &[usize], seed: u64) -> Tensor {
    Tensor::uniform(shape, -1.5, 1.5, DType::F64, &mut Rng::seed(seed))
}

fn check(f: &dyn Fn(&[Var]) -> autograd::Result<Var>, inputs: &[Tensor]) -> Result<(), TestCaseError> {
    let r = gradcheck(f, inputs, GradcheckOptions::default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(r.ok, "{}", r);
    Ok(())
}

/// A shape and a second shape that broadcasts against it (some dims set to 1, some dropped).
fn broadcast_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    prop::collection::vec(1usize..4, 1..4)
        .prop_flat_map(|a| {
            let rank = a.len();
            (Just(a), prop::collection::vec(any::<bool>(), rank), 0..=rank)
        })
        .prop_map(|(a, ones, drop)| {
            let b: Vec<usize> = a.iter().zip(&ones).map(|(&d, &one)| if one { 1 } else { d }).collect();
            (a, b[drop.min(b.len() - 1)..].to_vec())
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn broadcasting_binary_ops((a, b) in broadcast_pair(), seed in 0u64..1000) {
        let inputs = [rand(&a, seed), rand(&b, seed + 1)];
        check(&|v| v[0].try_mul(&v[1])?.try_add(&v[1])?.try_sub(&v[0]), &inputs)?;
        check(&|v| v[0].try_div(&v[1].try_square()?.try_add_scalar(0.5)?), &inputs)?;
    }

    #[test]
    fn reductions_over_random_axes(shape in prop::collection::vec(1usize..4, 1..4), mask in 0u32..8, keepdim: bool, seed in 0u64..1000) {
        let axes: Vec<isize> = (0..shape.len()).filter(|d| mask & (1 << d) != 0).map(|d| d as isize).collect();
        let x = [rand(&shape, seed)];
        let ax = axes.clone();
        check(&move |v| v[0].try_sum(&ax, keepdim)?.try_square(), &x)?;
        let ax = axes.clone();
        check(&move |v| v[0].try_mean(&ax, keepdim), &x)?;
        let ax = axes;
        check(&move |v| v[0].try_logsumexp(&ax, keepdim), &x)?;
    }

    #[test]
    fn matmul_of_random_sizes(m in 1usize..4, k in 1usize..4, n in 1usize..4, batch in 0usize..3, seed in 0u64..1000) {
        let lead: Vec<usize> = vec![2; batch];
        let a = [lead.clone(), vec![m, k]].concat();
        let b = [vec![k, n]].concat();
        check(&|v| v[0].try_matmul(&v[1]), &[rand(&a, seed), rand(&b, seed + 1)])?;
        check(&|v| v[1].try_t()?.try_matmul(&v[0].try_t()?), &[rand(&a, seed), rand(&b, seed + 1)])?;
    }

    #[test]
    fn softmax_along_a_random_axis(shape in prop::collection::vec(1usize..5, 1..4), axis in 0usize..3, seed in 0u64..1000) {
        let axis = (axis % shape.len()) as isize;
        let x = [rand(&shape, seed)];
        check(&move |v| v[0].try_softmax(axis), &x)?;
        check(&move |v| v[0].try_log_softmax(axis), &x)?;
    }
}
