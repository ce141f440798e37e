//! Sizes past what a `usize` counts or the machine holds, and scalars an integer tensor cannot
//! hold: each is a typed error from the `try_` form, never a wrapped shape, an abort or a
//! silently truncated value.

use tensor::{Conv2dParams, DType, Rng, Tensor, TensorError};

fn msg<T: std::fmt::Debug>(r: Result<T, TensorError>) -> String {
    r.unwrap_err().to_string()
}

const HUGE: usize = 1 << 32;

/// Linux's default overcommit policy refuses a single request larger than RAM plus swap, which
/// is what makes "more than this machine holds" observable; under "always overcommit" (mode 1)
/// a 4 TiB reserve would succeed and the fill would meet the OOM killer instead.
fn allocator_refuses_the_impossible() -> bool {
    std::fs::read_to_string("/proc/sys/vm/overcommit_memory").map(|m| m.trim() != "1").unwrap_or(false)
}

#[test]
fn element_counts_that_overflow_are_errors_at_creation() {
    assert_eq!(
        msg(Tensor::try_zeros(&[HUGE, HUGE], DType::F32)),
        "full: shape [4294967296, 4294967296] has more elements than a usize can count"
    );
    assert!(matches!(Tensor::try_full(&[HUGE, HUGE, 0], 1.0, DType::F32), Err(TensorError::TooLarge { .. })));
    assert!(matches!(Tensor::try_eye(HUGE, DType::F64), Err(TensorError::TooLarge { op: "eye", .. })));
    let mut rng = Rng::seed(0);
    assert!(matches!(
        Tensor::try_normal(&[HUGE, HUGE], 0.0, 1.0, DType::F32, &mut rng),
        Err(TensorError::TooLarge { .. })
    ));
    assert!(matches!(Tensor::try_randint(&[HUGE, HUGE], 0, 3, &mut rng), Err(TensorError::TooLarge { .. })));
    assert!(matches!(Tensor::try_from_vec(Vec::<f32>::new(), &[HUGE, HUGE]), Err(TensorError::TooLarge { .. })));
}

#[test]
fn shape_arithmetic_that_overflows_is_an_error_in_every_op() {
    let one = Tensor::zeros(&[1, 1], DType::F32);
    let (tall, wide) = (one.expand(&[HUGE as isize, 1]), one.expand(&[1, HUGE as isize]));
    assert_eq!(
        msg(tall.try_add(&wide)),
        "add: shape [4294967296, 4294967296] has more elements than a usize can count"
    );
    assert_eq!(
        msg(one.try_expand(&[HUGE as isize, HUGE as isize])),
        "expand: shape [4294967296, 4294967296] has more elements than a usize can count"
    );
    assert!(matches!(one.try_broadcast_to(&[HUGE, HUGE]), Err(TensorError::TooLarge { op: "broadcast_to", .. })));
    assert!(matches!(tall.try_matmul(&wide), Err(TensorError::TooLarge { op: "matmul", .. })));
    assert!(matches!(one.try_repeat(&[HUGE, HUGE]), Err(TensorError::TooLarge { op: "repeat", .. })));
    assert!(matches!(
        one.try_reshape(&[HUGE as isize, HUGE as isize]),
        Err(TensorError::TooLarge { op: "reshape", .. })
    ));
    let row = one.expand(&[1, isize::MAX]);
    let rows = [row.clone(), row.clone(), row];
    assert!(matches!(Tensor::try_cat(&rows, 1), Err(TensorError::TooLarge { op: "cat", .. })));
    let ids = Tensor::from_vec(vec![0i64, 1], &[2]);
    assert!(matches!(ids.try_one_hot(usize::MAX, DType::F32), Err(TensorError::TooLarge { op: "one_hot", .. })));
    let x = Tensor::zeros(&[1, 1, 2, 2], DType::F32);
    let w = Tensor::zeros(&[1, 1, 1, 1], DType::F32);
    let p = Conv2dParams { stride: [1, 1], padding: [1 << 40, 1 << 40], dilation: [1, 1], groups: 1 };
    assert!(matches!(x.try_conv2d(&w, None, p), Err(TensorError::TooLarge { op: "conv2d", .. })));
    let p = Conv2dParams { stride: [1, 1], padding: [0, 0], dilation: [usize::MAX, 1], groups: 1 };
    let w2 = Tensor::zeros(&[1, 1, 3, 1], DType::F32);
    assert!(x.try_conv2d(&w2, None, p).unwrap_err().to_string().contains("exceeds the padded input size"));
}

#[test]
fn allocations_the_machine_cannot_hold_are_errors_not_aborts() {
    // 2^62 f32 elements: 2^64 bytes, more than any address space, whatever the allocator says.
    assert_eq!(
        msg(Tensor::try_zeros(&[1 << 62], DType::F32)),
        "full: out of memory: cannot allocate 18446744073709551616 bytes for 4611686018427387904 elements of f32"
    );
    let scalar = Tensor::zeros(&[1], DType::F64);
    let view = scalar.expand(&[1 << 61]);
    assert!(matches!(view.try_exp(), Err(TensorError::OutOfMemory { op: "exp", .. })));
    assert!(matches!(view.try_mul_scalar(2.0), Err(TensorError::OutOfMemory { op: "mul_scalar", .. })));
    assert!(matches!(view.try_add(&scalar), Err(TensorError::OutOfMemory { op: "add", .. })));
    assert!(matches!(view.try_contiguous(), Err(TensorError::OutOfMemory { op: "contiguous", .. })));
    assert!(matches!(view.try_to_dtype(DType::F32), Err(TensorError::OutOfMemory { op: "to_dtype", .. })));
    assert!(matches!(view.try_to_vec::<f64>(), Err(TensorError::OutOfMemory { op: "to_vec", .. })));
    assert!(matches!(view.try_softmax(0), Err(TensorError::OutOfMemory { op: "softmax", .. })));
    assert!(matches!(view.try_log_softmax(0), Err(TensorError::OutOfMemory { op: "log_softmax", .. })));
    assert!(matches!(view.try_cumsum(0), Err(TensorError::OutOfMemory { op: "to_vec", .. })));
    let yes = Tensor::from_vec(vec![true], &[1]);
    assert!(matches!(view.try_masked_fill(&yes, 1.0), Err(TensorError::OutOfMemory { op: "masked_fill", .. })));
    assert!(matches!(yes.try_where_cond(&view, &scalar), Err(TensorError::OutOfMemory { op: "where_cond", .. })));
    let many_ids = Tensor::zeros(&[1], DType::I64).expand(&[1 << 61]);
    assert!(matches!(scalar.try_gather(0, &many_ids), Err(TensorError::OutOfMemory { op: "gather", .. })));
    assert!(matches!(scalar.try_index_select(0, &many_ids), Err(TensorError::OutOfMemory { .. })));
    assert!(matches!(
        Tensor::try_randperm(1 << 62, &mut Rng::seed(0)),
        Err(TensorError::OutOfMemory { op: "randperm", .. })
    ));
    if !allocator_refuses_the_impossible() {
        eprintln!("vm.overcommit_memory = 1: the 4 TiB cases below are not checked on this machine");
        return;
    }
    // 4 TiB: an address space holds it, this machine does not.
    assert!(matches!(Tensor::try_zeros(&[1 << 40], DType::F32), Err(TensorError::OutOfMemory { op: "full", .. })));
    let mut rng = Rng::seed(1);
    assert!(matches!(
        Tensor::try_normal(&[1 << 40], 0.0, 1.0, DType::F32, &mut rng),
        Err(TensorError::OutOfMemory { op: "normal", .. })
    ));
    let (col, row) = (Tensor::zeros(&[1 << 20, 1], DType::F32), Tensor::zeros(&[1, 1 << 20], DType::F32));
    assert!(matches!(col.try_matmul(&row), Err(TensorError::OutOfMemory { op: "matmul", .. })));
    let big = Tensor::zeros(&[1], DType::F32).expand(&[1 << 40]);
    assert!(matches!(big.try_exp(), Err(TensorError::OutOfMemory { op: "exp", .. })));
    assert_eq!(big.try_reshape(&[1 << 20, -1]).map(|t| t.numel()), Ok(1 << 40), "a view needs no memory");
}

#[test]
fn convolution_and_pooling_gradients_check_their_size_first() {
    // A window that skips almost everything: a 1x1 output from a 2^31 x 2^31 input, whose
    // gradient (2^62 f32 elements, 2^64 bytes) is more than an address space.
    let side = 1usize << 31;
    let input = [1, 1, side, side];
    let dy = Tensor::zeros(&[1, 1, 1, 1], DType::F32);
    let w = Tensor::zeros(&[1, 1, 1, 1], DType::F32);
    let p = Conv2dParams { stride: [side, side], padding: [0, 0], dilation: [1, 1], groups: 1 };
    assert_eq!(
        msg(Tensor::try_conv2d_backward_input(&dy, &w, &input, p)),
        "conv2d_backward_input: out of memory: cannot allocate 18446744073709551616 bytes for \
         4611686018427387904 elements of f32"
    );
    let pool = ([1, 1], [side, side], [0, 0]);
    assert!(matches!(
        Tensor::try_avg_pool2d_backward(&dy, &input, pool.0, pool.1, pool.2, true),
        Err(TensorError::OutOfMemory { op: "avg_pool2d_backward", .. })
    ));
    let at = Tensor::zeros(&[1, 1, 1, 1], DType::I64);
    assert!(matches!(
        Tensor::try_max_pool2d_backward(&dy, &at, &input),
        Err(TensorError::OutOfMemory { op: "max_pool2d_backward", .. })
    ));
    // A weight gradient as large as that, from a shape the caller names.
    let x = Tensor::zeros(&[1, 1, 1, 1], DType::F32);
    let p = Conv2dParams { stride: [1, 1], padding: [side / 2, side / 2], dilation: [1, 1], groups: 1 };
    let dy = Tensor::zeros(&[1, 1, 1, 1], DType::F32).expand(&[1, 1, 2, 2]);
    assert!(matches!(
        Tensor::try_conv2d_backward_weight(&dy, &x, &[1, 1, side, side], p),
        Err(TensorError::OutOfMemory { op: "conv2d_backward_weight", .. })
    ));
    // Forward ops on a broadcast view read it densely: that copy is checked too.
    let plane = Tensor::zeros(&[1, 1, 1, 1], DType::F32).expand(&[1, 1, side as isize, side as isize]);
    assert!(matches!(plane.try_max_pool2d([1, 1], [1, 1], [0, 0]), Err(TensorError::OutOfMemory { .. })));
    assert!(matches!(plane.try_conv2d(&w, None, Conv2dParams::default()), Err(TensorError::OutOfMemory { .. })));
    let long = Tensor::zeros(&[1], DType::F64).expand(&[1 << 61]);
    assert!(matches!(long.try_prod_exclusive(&[0]), Err(TensorError::OutOfMemory { op: "prod_exclusive", .. })));
}

#[test]
fn integer_tensors_refuse_scalars_they_cannot_hold() {
    let ints = Tensor::from_vec(vec![1i64, 2], &[2]);
    assert_eq!(
        msg(ints.try_mul_scalar(2.5)),
        "mul_scalar: scalar 2.5 is not exactly representable as i64; convert the tensor to a float dtype first (to_dtype)"
    );
    assert!(matches!(ints.try_add_scalar(0.5), Err(TensorError::ScalarNotRepresentable { op: "add_scalar", .. })));
    assert!(matches!(ints.try_add_scalar(f64::NAN), Err(TensorError::ScalarNotRepresentable { .. })));
    assert!(matches!(
        ints.try_add_scalar(9_223_372_036_854_775_808.0),
        Err(TensorError::ScalarNotRepresentable { .. })
    ));
    let bytes = Tensor::from_vec(vec![1u8, 2], &[2]);
    assert!(matches!(bytes.try_add_scalar(300.0), Err(TensorError::ScalarNotRepresentable { .. })));
    assert!(matches!(bytes.try_sub_scalar(-1.0), Err(TensorError::ScalarNotRepresentable { .. })));
    // Exact scalars keep the integer arithmetic, and floats round the scalar as torch does.
    assert_eq!(ints.mul_scalar(3.0).to_vec::<i64>(), vec![3, 6]);
    assert_eq!((&ints * 2.0).to_vec::<i64>(), vec![2, 4]);
    assert_eq!(Tensor::from_vec(vec![1.0f32], &[1]).mul_scalar(0.1).to_vec::<f32>(), vec![0.1]);
    let panicked = std::panic::catch_unwind(|| &Tensor::from_vec(vec![1i64, 2], &[2]) * 2.5).unwrap_err();
    let text = panicked.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.starts_with("mul_scalar: scalar 2.5 is not exactly representable as i64"), "{text}");
}

#[test]
fn integer_fill_values_and_bounds_must_be_exact_too() {
    let ints = Tensor::from_vec(vec![-1i64, 2], &[2]);
    let mask = Tensor::from_vec(vec![true, false], &[2]);
    assert!(matches!(
        ints.try_masked_fill(&mask, 0.5),
        Err(TensorError::ScalarNotRepresentable { op: "masked_fill", .. })
    ));
    assert!(matches!(ints.try_masked_fill(&mask, f64::NEG_INFINITY), Err(TensorError::ScalarNotRepresentable { .. })));
    assert_eq!(ints.masked_fill(&mask, 7.0).to_vec::<i64>(), vec![7, 2]);
    assert!(matches!(ints.try_pad(&[(1, 0)], 0.5), Err(TensorError::ScalarNotRepresentable { op: "pad", .. })));
    assert_eq!(
        msg(ints.try_clamp(0.5, 10.0)),
        "clamp: scalar 0.5 is not exactly representable as i64; convert the tensor to a float dtype first (to_dtype)"
    );
    assert_eq!(ints.clamp(0.0, f64::INFINITY).to_vec::<i64>(), vec![0, 2], "infinite bounds stay one-sided");
    let floats = Tensor::from_vec(vec![-1.0f32, 2.0], &[2]);
    assert_eq!(floats.masked_fill(&mask, f64::NEG_INFINITY).to_vec::<f32>(), vec![f32::NEG_INFINITY, 2.0]);
}
