//! Fused elementwise programs give the unfused ops' results bit for bit.

use tensor::ops::fused::{
    BinaryFn, DirectKernel, ElementwiseProgram, Instr, ProgramKernel, ScalarFn, UnaryFn, MAX_INPUTS,
};
use tensor::{DType, Rng, Tensor};

fn bits(t: &Tensor) -> Vec<u64> {
    t.to_dtype(DType::F64).to_vec::<f64>().iter().map(|v| v.to_bits()).collect()
}

/// Random values with NaN, infinities, zeros of both signs and large magnitudes mixed in.
fn awkward(shape: &[usize], dtype: DType, seed: u64) -> Tensor {
    let mut rng = Rng::seed(seed);
    let special = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 1e30, -1e30, 88.0, -88.0, 1e-40];
    let n: usize = shape.iter().product();
    let data: Vec<f64> = (0..n)
        .map(|i| if i % 7 == 3 { special[(i / 7) % special.len()] } else { rng.next_f64() * 8.0 - 4.0 })
        .collect();
    Tensor::from_vec(data, shape).to_dtype(dtype)
}

fn unary(u: UnaryFn, x: &Tensor) -> Tensor {
    match u {
        UnaryFn::Neg => x.neg(),
        UnaryFn::Abs => x.abs(),
        UnaryFn::Square => x.square(),
        UnaryFn::Exp => x.exp(),
        UnaryFn::Log => x.log(),
        UnaryFn::Sqrt => x.sqrt(),
        UnaryFn::Tanh => x.tanh(),
        UnaryFn::Sigmoid => x.sigmoid(),
        UnaryFn::Relu => x.relu(),
        UnaryFn::Sin => x.sin(),
        UnaryFn::Cos => x.cos(),
    }
}

fn binary(b: BinaryFn, x: &Tensor, y: &Tensor) -> Tensor {
    match b {
        BinaryFn::Add => x.add(y),
        BinaryFn::Sub => x.sub(y),
        BinaryFn::Mul => x.mul(y),
        BinaryFn::Div => x.div(y),
        BinaryFn::Maximum => x.maximum(y),
        BinaryFn::Minimum => x.minimum(y),
        BinaryFn::TanhBackward => x.tanh_backward(y),
    }
}

#[test]
fn every_instruction_equals_its_op() {
    use UnaryFn::*;
    for dtype in [DType::F32, DType::F64] {
        // 700 elements: two full blocks and a partial one per row.
        let x = awkward(&[2, 700], dtype, 1);
        let y = awkward(&[2, 700], dtype, 2);
        for u in [Neg, Abs, Square, Exp, Log, Sqrt, Tanh, Sigmoid, Relu, Sin, Cos] {
            let p = ElementwiseProgram { inputs: 1, instrs: vec![Instr::Unary(u, 0)] };
            assert_eq!(bits(&Tensor::try_fused(&[&x], &p).unwrap()), bits(&unary(u, &x)), "{u:?} {dtype}");
        }
        for (s, v) in [(ScalarFn::Add, 0.1), (ScalarFn::Mul, -2.5), (ScalarFn::Add, -0.0)] {
            let p = ElementwiseProgram { inputs: 1, instrs: vec![Instr::Scalar(s, v, 0)] };
            let want = if s == ScalarFn::Add { x.add_scalar(v) } else { x.mul_scalar(v) };
            assert_eq!(bits(&Tensor::try_fused(&[&x], &p).unwrap()), bits(&want), "{s:?} {dtype}");
        }
        use BinaryFn as B;
        for b in [B::Add, B::Sub, B::Mul, B::Div, B::Maximum, B::Minimum, B::TanhBackward] {
            let p = ElementwiseProgram { inputs: 2, instrs: vec![Instr::Binary(b, 0, 1)] };
            assert_eq!(bits(&Tensor::try_fused(&[&x, &y], &p).unwrap()), bits(&binary(b, &x, &y)), "{b:?} {dtype}");
        }
    }
}

#[test]
fn a_chain_on_broadcast_and_strided_inputs_equals_the_ops_one_by_one() {
    // sigmoid((x^T + b) * 0.5) - y, with x transposed, b a broadcast row, y a column.
    let x = awkward(&[9, 5], DType::F32, 3).t();
    let b = awkward(&[9], DType::F32, 4);
    let y = awkward(&[5, 1], DType::F32, 5);
    let p = ElementwiseProgram {
        inputs: 3,
        instrs: vec![
            Instr::Binary(BinaryFn::Add, 0, 1),
            Instr::Scalar(ScalarFn::Mul, 0.5, 3),
            Instr::Unary(UnaryFn::Sigmoid, 4),
            Instr::Binary(BinaryFn::Sub, 5, 2),
        ],
    };
    let fused = Tensor::try_fused(&[&x, &b, &y], &p).unwrap();
    let want = x.add(&b).mul_scalar(0.5).sigmoid().sub(&y);
    assert_eq!(fused.shape(), &[5, 9]);
    assert_eq!(bits(&fused), bits(&want));
    assert_eq!(p.to_string(), "r3 = add(x0, x1); r4 = mul_scalar(r3, 0.5); r5 = sigmoid(r4); r6 = sub(r5, x2)");
}

#[test]
fn malformed_programs_and_inputs_are_errors() {
    let x = Tensor::ones(&[3], DType::F32);
    let forward_ref = ElementwiseProgram { inputs: 1, instrs: vec![Instr::Unary(UnaryFn::Exp, 1)] };
    assert_eq!(
        Tensor::try_fused(&[&x], &forward_ref).unwrap_err().to_string(),
        "fused: instruction 0 (Unary(Exp, 1)) reads a register not yet written"
    );
    let one = ElementwiseProgram { inputs: 1, instrs: vec![Instr::Unary(UnaryFn::Exp, 0)] };
    assert!(Tensor::try_fused(&[&x, &x], &one).unwrap_err().to_string().contains("takes 1 inputs, got 2"));
    let ints = Tensor::zeros(&[3], DType::I64);
    assert!(Tensor::try_fused(&[&ints], &one).is_err());
    let two = ElementwiseProgram { inputs: 2, instrs: vec![Instr::Binary(BinaryFn::Add, 0, 1)] };
    assert!(Tensor::try_fused(&[&x, &Tensor::ones(&[4], DType::F32)], &two).is_err());
}

/// `try_fused_into` writes what `try_fused` returns, bit for bit: through its direct loop (one
/// instruction on contiguous inputs, in parallel chunks when large) and through the general
/// path (offsets, transposes, broadcasts, chains).
#[test]
fn writing_into_a_buffer_equals_a_new_buffer() {
    use UnaryFn::*;
    let into = |inputs: &[&Tensor], p: &ElementwiseProgram| {
        let want = Tensor::try_fused(inputs, p).unwrap();
        // A buffer that held other values: every element must be written.
        let mut out = Tensor::full(want.shape(), 7.0, want.dtype());
        Tensor::try_fused_into(inputs, p, &mut out).unwrap();
        assert_eq!(bits(&out), bits(&want), "{p}");
    };
    for dtype in [DType::F32, DType::F64] {
        for shape in [&[3][..], &[2, 700], &[1 << 17], &[]] {
            let (x, y) = (awkward(shape, dtype, 1), awkward(shape, dtype, 2));
            for u in [Neg, Abs, Square, Exp, Log, Sqrt, Tanh, Sigmoid, Relu, Sin, Cos] {
                into(&[&x], &ElementwiseProgram { inputs: 1, instrs: vec![Instr::Unary(u, 0)] });
            }
            into(&[&x], &ElementwiseProgram { inputs: 1, instrs: vec![Instr::Scalar(ScalarFn::Mul, -2.5, 0)] });
            use BinaryFn as B;
            for b in [B::Add, B::Sub, B::Mul, B::Div, B::Maximum, B::Minimum, B::TanhBackward] {
                into(&[&x, &y], &ElementwiseProgram { inputs: 2, instrs: vec![Instr::Binary(b, 0, 1)] });
            }
        }
        // A row repeated along the output (a bias), first or second, for every binary op: rows
        // of whole vectors, a ragged row, a row with leading ones, enough rows to be split
        // between threads, and a single element.
        for (out_shape, row_shape) in
            [(&[32, 16][..], &[16][..]), (&[7, 9], &[9]), (&[5, 3, 24], &[1, 1, 24]), (&[4096, 16], &[16])]
                .into_iter()
                // One element repeated (a scalar broadcast), also over enough elements to split.
                .chain([(&[32, 1][..], &[1][..]), (&[7, 5], &[1, 1]), (&[1 << 17], &[1])])
        {
            let (x, row) = (awkward(out_shape, dtype, 6), awkward(row_shape, dtype, 7));
            use BinaryFn as B;
            for b in [B::Add, B::Sub, B::Mul, B::Div, B::Maximum, B::Minimum, B::TanhBackward] {
                let p = ElementwiseProgram { inputs: 2, instrs: vec![Instr::Binary(b, 0, 1)] };
                into(&[&x, &row], &p);
                into(&[&row, &x], &p);
                let (mut xr, mut rx) = (Tensor::zeros(out_shape, dtype), Tensor::zeros(out_shape, dtype));
                Tensor::try_fused_into(&[&x, &row], &p, &mut xr).unwrap();
                Tensor::try_fused_into(&[&row, &x], &p, &mut rx).unwrap();
                assert_eq!(bits(&xr), bits(&binary(b, &x, &row)), "{b:?} {out_shape:?}");
                assert_eq!(bits(&rx), bits(&binary(b, &row, &x)), "{b:?} {out_shape:?}");
            }
        }
        // An offset view, a transpose and a broadcast row: the general path.
        let x = awkward(&[6, 5], dtype, 3).try_slice(0, 1, 6, 1).unwrap();
        let xt = awkward(&[5, 5], dtype, 4).t();
        let row = awkward(&[5], dtype, 5);
        let add = ElementwiseProgram { inputs: 2, instrs: vec![Instr::Binary(BinaryFn::Add, 0, 1)] };
        into(&[&x, &xt], &add);
        into(&[&x, &row], &add);
        into(&[&row, &x], &add);
        let chain = ElementwiseProgram {
            inputs: 2,
            instrs: vec![Instr::Binary(BinaryFn::Mul, 0, 1), Instr::Unary(UnaryFn::Tanh, 2)],
        };
        into(&[&x, &x], &chain);
    }
}

#[test]
fn writing_into_a_shared_or_misshaped_buffer_is_an_error() {
    let x = Tensor::ones(&[3], DType::F32);
    let exp = ElementwiseProgram { inputs: 1, instrs: vec![Instr::Unary(UnaryFn::Exp, 0)] };
    let mut out = Tensor::zeros(&[3], DType::F32);
    let holder = out.clone();
    assert_eq!(
        Tensor::try_fused_into(&[&x], &exp, &mut out).unwrap_err().to_string(),
        "fused_into: the output buffer is shared or not contiguous"
    );
    assert_eq!(holder.to_vec::<f32>(), vec![0.0; 3], "a holder of the buffer never sees a write");
    let mut four = Tensor::zeros(&[4], DType::F32);
    assert_eq!(
        Tensor::try_fused_into(&[&x], &exp, &mut four).unwrap_err().to_string(),
        "fused_into: the inputs broadcast to [3] but the output is [4]"
    );
    // Two rows broadcast to a row, not to the output's shape.
    let (row, mut rows) = (Tensor::ones(&[16], DType::F32), Tensor::zeros(&[2, 16], DType::F32));
    let add = ElementwiseProgram { inputs: 2, instrs: vec![Instr::Binary(BinaryFn::Add, 0, 1)] };
    assert_eq!(
        Tensor::try_fused_into(&[&row, &row], &add, &mut rows).unwrap_err().to_string(),
        "fused_into: the inputs broadcast to [16] but the output is [2, 16]"
    );
    let mut f64s = Tensor::zeros(&[3], DType::F64);
    assert!(Tensor::try_fused_into(&[&x], &exp, &mut f64s).unwrap_err().to_string().contains("fused_into"));
    let mut strided = Tensor::zeros(&[3, 3], DType::F32).t();
    let square = Tensor::ones(&[3, 3], DType::F32);
    assert!(Tensor::try_fused_into(&[&square], &exp, &mut strided).is_err());
}

/// A prepared kernel (`run`) made for operands like `planned` (the first of shape [4, 3], the
/// output's) writes nothing and returns `false` at run time for a strided operand, one of
/// another shape or dtype, the wrong number of operands, a shared or misshaped output; then it
/// runs, and every element is `want`.
fn declines_what_it_was_not_planned_for(
    mut run: impl FnMut(&[&Tensor], &mut Tensor) -> bool,
    [x, y]: [&Tensor; 2],
    want: f32,
) {
    let mut out = Tensor::zeros(&[4, 3], DType::F32);
    let strided = x.t().contiguous().t();
    let wider: Vec<isize> = std::iter::once(1).chain(y.shape().iter().map(|&d| d as isize)).collect();
    let (other_shape, other_dtype) = (y.reshape(&wider), y.to_dtype(DType::F64));
    let declined: [(&[&Tensor], &str); 4] = [
        (&[&strided, y], "strided"),
        (&[x, &other_shape], "another shape"),
        (&[x, &other_dtype], "another dtype"),
        (&[x], "one operand"),
    ];
    for (inputs, what) in declined {
        assert!(!run(inputs, &mut out), "{what}");
        assert_eq!(out.to_vec::<f32>(), vec![0.0; 12], "{what}");
    }
    let holder = out.clone();
    assert!(!run(&[x, y], &mut out), "shared output");
    drop(holder);
    assert!(!run(&[x, y], &mut Tensor::zeros(&[12], DType::F32)), "misshaped output");
    assert!(run(&[x, y], &mut out));
    assert_eq!(out.to_vec::<f32>(), vec![want; 12]);
}

#[test]
fn a_prepared_kernel_equals_the_program_and_declines_what_it_was_not_made_for() {
    let one = |instr: Instr, inputs: usize| ElementwiseProgram { inputs, instrs: vec![instr] };
    let shapes = |ts: &[&Tensor]| ts.iter().map(|t| t.shape().to_vec()).collect::<Vec<_>>();
    let run = |p: &ElementwiseProgram, inputs: &[&Tensor]| {
        let want = Tensor::try_fused(inputs, p).unwrap();
        let owned = shapes(inputs);
        let dims: Vec<&[usize]> = owned.iter().map(|s| s.as_slice()).collect();
        let kernel = DirectKernel::new(p, want.dtype(), &dims, want.shape()).expect("the direct loop applies");
        let mut out = Tensor::full(want.shape(), 7.0, want.dtype());
        assert!(kernel.run(inputs, &mut out), "{p}");
        assert_eq!(bits(&out), bits(&want), "{p} {dims:?}");
    };
    for dtype in [DType::F32, DType::F64] {
        let (x, y) = (awkward(&[7, 9], dtype, 1), awkward(&[7, 9], dtype, 2));
        let (row, scalar) = (awkward(&[9], dtype, 3), awkward(&[1, 1], dtype, 4));
        for u in [UnaryFn::Neg, UnaryFn::Tanh, UnaryFn::Relu, UnaryFn::Exp] {
            run(&one(Instr::Unary(u, 0), 1), &[&x]);
        }
        run(&one(Instr::Scalar(ScalarFn::Add, 0.5, 0), 1), &[&x]);
        use BinaryFn as B;
        for b in [B::Add, B::Sub, B::Mul, B::Div, B::Maximum, B::Minimum, B::TanhBackward] {
            let p = one(Instr::Binary(b, 0, 1), 2);
            for inputs in [[&x, &y], [&x, &row], [&row, &x], [&scalar, &x], [&x, &scalar]] {
                run(&p, &inputs);
            }
        }
    }

    let add = one(Instr::Binary(BinaryFn::Add, 0, 1), 2);
    let kernel = DirectKernel::new(&add, DType::F32, &[&[4, 3], &[4, 3]], &[4, 3]).unwrap();
    let x = Tensor::ones(&[4, 3], DType::F32);
    declines_what_it_was_not_planned_for(|inputs, out| kernel.run(inputs, out), [&x, &x], 2.0);

    // Not made: two instructions, integers, operands that are not rows of the output, none of
    // the output's shape, a malformed program.
    let chain = ElementwiseProgram { inputs: 1, instrs: vec![Instr::Unary(UnaryFn::Neg, 0); 2] };
    assert!(DirectKernel::new(&chain, DType::F32, &[&[3]], &[3]).is_none());
    assert!(DirectKernel::new(&add, DType::I64, &[&[3], &[3]], &[3]).is_none());
    assert!(DirectKernel::new(&add, DType::F32, &[&[4, 1], &[4, 3]], &[4, 3]).is_none());
    assert!(DirectKernel::new(&add, DType::F32, &[&[3], &[3]], &[4, 3]).is_none());
    assert!(DirectKernel::new(&add, DType::F32, &[&[3]], &[3]).is_none());
}

/// The program run as the ops one by one.
fn ops_one_by_one(p: &ElementwiseProgram, inputs: &[&Tensor]) -> Tensor {
    let mut regs: Vec<Tensor> = inputs.iter().map(|t| (*t).clone()).collect();
    for instr in &p.instrs {
        let value = match *instr {
            Instr::Unary(u, a) => unary(u, &regs[a]),
            Instr::Scalar(ScalarFn::Add, v, a) => regs[a].add_scalar(v),
            Instr::Scalar(ScalarFn::Mul, v, a) => regs[a].mul_scalar(v),
            Instr::Binary(b, x, y) => binary(b, &regs[x], &regs[y]),
        };
        regs.push(value);
    }
    regs.pop().expect("a program has instructions")
}

fn prepared_program(p: &ElementwiseProgram, inputs: &[&Tensor], out: &[usize]) -> Option<ProgramKernel> {
    let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
    ProgramKernel::new(p, inputs[0].dtype(), &shapes, out)
}

#[test]
fn a_prepared_program_equals_the_ops_one_by_one() {
    use BinaryFn as B;
    // tanh(x * w + b) - y: an intermediate freed and its register reused, a repeated operand,
    // two operands of the output's shape.
    let chain = ElementwiseProgram {
        inputs: 4,
        instrs: vec![
            Instr::Binary(B::Mul, 0, 1),
            Instr::Binary(B::Add, 4, 2),
            Instr::Unary(UnaryFn::Tanh, 5),
            Instr::Binary(B::Sub, 6, 3),
        ],
    };
    // A tree: (x + w) * (x - w) / max(x, b), then + 0.5 and a tanh_backward against y; five
    // intermediates, three alive at once.
    let tree = ElementwiseProgram {
        inputs: 4,
        instrs: vec![
            Instr::Binary(B::Add, 0, 1),
            Instr::Binary(B::Sub, 0, 1),
            Instr::Binary(B::Maximum, 0, 2),
            Instr::Binary(B::Mul, 4, 5),
            Instr::Binary(B::Div, 7, 6),
            Instr::Scalar(ScalarFn::Add, 0.5, 8),
            Instr::Binary(B::TanhBackward, 9, 3),
        ],
    };
    // Rows shorter than a block (copied), a row of 300 (read in place, blocks cut at its
    // end), single elements, outputs of 1 to 4,100 elements (one block, several, a remainder),
    // and one large enough to be split between threads.
    let cases: [(&[usize], &[usize]); 9] = [
        (&[4], &[4]),
        (&[7, 9], &[9]),
        (&[32, 16], &[16]),
        (&[3, 5, 3], &[5, 3]),
        (&[5, 300], &[300]),
        (&[4100], &[1]),
        (&[1], &[1]),
        (&[300, 1], &[1, 1]),
        (&[1100, 256], &[256]),
    ];
    for dtype in [DType::F32, DType::F64] {
        for (k, (shape, row)) in cases.into_iter().enumerate() {
            let seed = 10 * k as u64;
            let (x, y) = (awkward(shape, dtype, seed), awkward(shape, dtype, seed + 1));
            let (w, b) = (awkward(shape, dtype, seed + 2), awkward(row, dtype, seed + 3));
            for (p, inputs) in [(&chain, [&x, &w, &b, &y]), (&tree, [&x, &w, &b, &y]), (&chain, [&b, &x, &x, &w])] {
                let want = ops_one_by_one(p, &inputs);
                let mut kernel = prepared_program(p, &inputs, want.shape()).expect("the kernel applies");
                // Twice into one buffer: the registers kept from the first run change nothing.
                let mut out = Tensor::full(want.shape(), 7.0, dtype);
                for _ in 0..2 {
                    assert!(kernel.run(&inputs, &mut out), "{p} {shape:?}");
                    assert_eq!(bits(&out), bits(&want), "{p} {shape:?} {row:?} {dtype:?}");
                }
            }
        }
    }
}

#[test]
fn a_prepared_program_declines_what_it_was_not_made_for() {
    let chain = ElementwiseProgram {
        inputs: 2,
        instrs: vec![Instr::Binary(BinaryFn::Add, 0, 1), Instr::Unary(UnaryFn::Exp, 2)],
    };
    let mut kernel = ProgramKernel::new(&chain, DType::F32, &[&[4, 3], &[3]], &[4, 3]).unwrap();
    let (x, b) = (Tensor::ones(&[4, 3], DType::F32), Tensor::ones(&[3], DType::F32));
    declines_what_it_was_not_planned_for(|inputs, out| kernel.run(inputs, out), [&x, &b], 2f32.exp());

    // Not made: one instruction (the direct kernel's), integers, an operand that is not a row
    // of the output, rows of two lengths, too many inputs, more registers alive at once than
    // the kernel keeps, a malformed program.
    let one = ElementwiseProgram { inputs: 1, instrs: vec![Instr::Unary(UnaryFn::Neg, 0)] };
    assert!(ProgramKernel::new(&one, DType::F32, &[&[3]], &[3]).is_none());
    assert!(ProgramKernel::new(&chain, DType::I64, &[&[3], &[3]], &[3]).is_none());
    assert!(ProgramKernel::new(&chain, DType::F32, &[&[4, 3], &[4, 1]], &[4, 3]).is_none());
    let three = ElementwiseProgram {
        inputs: 3,
        instrs: vec![Instr::Binary(BinaryFn::Add, 0, 1), Instr::Binary(BinaryFn::Add, 3, 2)],
    };
    assert!(ProgramKernel::new(&three, DType::F32, &[&[2, 3, 4], &[4], &[3, 4]], &[2, 3, 4]).is_none());
    assert!(ProgramKernel::new(&three, DType::F32, &[&[2, 3, 4], &[4], &[1, 4]], &[2, 3, 4]).is_some());
    let n = MAX_INPUTS + 1;
    let wide = ElementwiseProgram {
        inputs: n,
        instrs: (1..n).map(|k| Instr::Binary(BinaryFn::Add, if k == 1 { 0 } else { n + k - 2 }, k)).collect(),
    };
    let shapes = vec![&[4][..]; n];
    assert!(ProgramKernel::new(&wide, DType::F32, &shapes, &[4]).is_none());
    // exp(x), exp(exp(x)), ...: `alive` values, then summed. The first sum is written while
    // all are alive: seven fit in the eight registers, eight do not.
    let exps = |alive: usize| {
        let mut instrs: Vec<Instr> = (0..alive).map(|k| Instr::Unary(UnaryFn::Exp, k)).collect();
        instrs.extend((0..alive - 1).map(|k| Instr::Binary(BinaryFn::Add, if k == 0 { 1 } else { alive + k }, k + 2)));
        ElementwiseProgram { inputs: 1, instrs }
    };
    assert!(ProgramKernel::new(&exps(7), DType::F32, &[&[4]], &[4]).is_some());
    assert!(ProgramKernel::new(&exps(8), DType::F32, &[&[4]], &[4]).is_none());
    let malformed = ElementwiseProgram { inputs: 1, instrs: vec![Instr::Unary(UnaryFn::Neg, 5); 2] };
    assert!(ProgramKernel::new(&malformed, DType::F32, &[&[3]], &[3]).is_none());
}
