//! The data-parallel helpers on a world of threads: exactness, the collectives, and errors.
//! (tests/mpi.rs runs the same checks under `mpirun`, with feature `mpi`.)

mod common;

use std::time::Duration;

use autograd::{Gradients, Param};
use distributed::{threads, DistError, GradientAverager, World};
use nn::data::{DataLoader, Shard};
use nn::Module;
use tensor::{DType, Tensor};

const WAIT: Duration = Duration::from_secs(60);

/// Runs `f` on `n` ranks and unwraps every rank's result.
fn on_ranks<T: Send>(n: usize, f: impl Fn(World) -> T + Sync) -> Vec<T> {
    threads(n, WAIT, f).into_iter().map(|r| r.expect("a rank panicked")).collect()
}

fn param(values: Vec<f32>) -> Param {
    let n = values.len();
    Param::new(Tensor::from_vec(values, &[n]))
}

#[test]
fn training_matches_the_single_process_run() {
    for (dtype, tol) in [(DType::F32, 1e-6), (DType::F64, 1e-12)] {
        let (single, _) = common::train(None, dtype, 100);
        for ranks in [2, 3] {
            let runs = on_ranks(ranks, |w| common::train(Some(&w), dtype, 100).0);
            for losses in &runs {
                assert_eq!(losses, &runs[0], "every rank reports the same losses");
                common::assert_close(losses, &single, tol);
            }
            // Repeated runs give the same bits.
            let again = on_ranks(ranks, |w| common::train(Some(&w), dtype, 100).0);
            assert_eq!(again, runs, "{ranks} ranks, {dtype:?}");
        }
    }
}

#[test]
fn averaging_adds_in_rank_order_and_every_rank_gets_the_same_bits() {
    // Values whose sum depends on the order of the additions in f32.
    let values =
        |rank: usize| -> Vec<f32> { (0..37).map(|i| (1.0 + i as f32) * 10f32.powi(rank as i32 * 3 - 4)).collect() };
    for ranks in 1..=4 {
        for bucket_bytes in [4, 12, 100, 1 << 20] {
            let got = on_ranks(ranks, |w| {
                let p = param(vec![0.0; 37]);
                let q = param(vec![0.0; 5]);
                let mut grads = Gradients::new();
                grads.set_param(p.id(), Tensor::from_vec(values(w.rank()), &[37]));
                grads.set_param(q.id(), Tensor::from_vec(vec![w.rank() as f32; 5], &[5]));
                let list = vec![("p".to_string(), p.clone()), ("q".to_string(), q.clone())];
                let mut averager = GradientAverager::with_bucket_bytes(list, bucket_bytes).unwrap();
                averager.average(&w, &mut grads).unwrap();
                (grads.param(&p).unwrap().to_vec::<f32>(), grads.param(&q).unwrap().to_vec::<f32>())
            });
            let expected: Vec<f32> =
                (0..37).map(|i| (1..ranks).fold(values(0)[i], |acc, r| acc + values(r)[i]) / ranks as f32).collect();
            let mean_rank = (0..ranks).map(|r| r as f32).sum::<f32>() / ranks as f32;
            for (p, q) in &got {
                assert_eq!(
                    p.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    expected.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                );
                assert_eq!(q, &vec![mean_rank; 5]);
            }
        }
    }
}

#[test]
fn missing_gradients_count_as_zeros_and_weights_apply() {
    let got = on_ranks(3, |w| {
        let (p, q) = (param(vec![0.0; 2]), param(vec![0.0; 2]));
        let mut grads = Gradients::new();
        // Rank 0 has no gradient for p; nobody has one for q.
        if w.rank() > 0 {
            grads.set_param(p.id(), Tensor::from_vec(vec![w.rank() as f32, 6.0], &[2]));
        }
        let list = vec![("p".to_string(), p.clone()), ("q".to_string(), q.clone())];
        let mut averager = GradientAverager::new(list).unwrap();
        let mut plain = grads.clone();
        averager.average(&w, &mut plain).unwrap();
        // Weighted by rank + 1: (2*1 + 3*2) / 6 and (2*6 + 3*6) / 6.
        averager.average_weighted(&w, &mut grads, w.rank() as f64 + 1.0).unwrap();
        (
            plain.param(&p).map(|g| g.to_vec::<f32>()),
            plain.param(&q).is_none(),
            grads.param(&p).unwrap().to_vec::<f32>(),
        )
    });
    for (plain, q_absent, weighted) in got {
        assert_eq!(plain, Some(vec![1.0, 4.0]));
        assert!(q_absent, "a parameter no rank has a gradient for keeps none");
        assert_eq!(weighted, vec![8.0 / 6.0, 5.0]);
    }
}

#[test]
fn averaging_errors_name_the_parameter() {
    let p = param(vec![0.0; 3]);
    let mut averager = GradientAverager::new(vec![("w".to_string(), p.clone())]).unwrap();
    let world = World::alone();
    let mut grads = Gradients::new();
    grads.set_param(p.id(), Tensor::zeros(&[4], DType::F32));
    let e = averager.average(&world, &mut grads).unwrap_err();
    assert_eq!(e.to_string(), "average_gradients: parameter 0 has shape [3] but its gradient has shape [4]");
    grads.set_param(p.id(), Tensor::zeros(&[3], DType::F64));
    let e = averager.average(&world, &mut grads).unwrap_err();
    assert_eq!(e.to_string(), "average_gradients: parameter 0 is F32 but its gradient is F64");
    let e = averager.average_weighted(&world, &mut grads, f64::NAN).unwrap_err();
    assert_eq!(
        e.to_string(),
        "average_gradients: the weight must be finite, at least 0 and representable in f32, not NaN"
    );
    let e = averager.average_weighted(&world, &mut grads, 1e300).unwrap_err();
    assert!(matches!(e, DistError::BadWeight { .. }), "{e}");
    grads.set_param(p.id(), Tensor::zeros(&[3], DType::F32));
    let e = averager.average_weighted(&world, &mut grads, 0.0).unwrap_err();
    assert_eq!(e, DistError::ZeroTotalWeight { op: "average_gradients" });
    assert_eq!(e.to_string(), "average_gradients: the weights of all ranks add up to 0");

    let ids = Param::new(Tensor::zeros(&[2], DType::I64));
    let e = GradientAverager::new(vec![("w".to_string(), p), ("ids".to_string(), ids)]).err().unwrap();
    assert_eq!(
        e.to_string(),
        "GradientAverager: parameter 1 (ids) has a I64 gradient; only f32 and f64 gradients can be averaged"
    );
}

#[test]
fn broadcast_gives_every_rank_rank_zeros_weights() {
    let states = on_ranks(3, |w| {
        let net = common::model(DType::F32, 100 + w.rank() as u64);
        w.broadcast_module(&net).unwrap();
        w.check_same_parameters(net.named_parameters()).unwrap();
        net.parameters().iter().map(|p| p.value().to_vec::<f32>()).collect::<Vec<_>>()
    });
    let root =
        common::model(DType::F32, 100).parameters().iter().map(|p| p.value().to_vec::<f32>()).collect::<Vec<_>>();
    assert!(states.iter().all(|s| s == &root));
}

#[test]
fn a_different_parameter_list_is_refused_on_every_rank() {
    let errors = on_ranks(3, |w| {
        let width = if w.rank() == 2 { 17 } else { 16 };
        let p = vec![
            ("0.weight".to_string(), Param::new(Tensor::zeros(&[16, 6], DType::F32))),
            ("0.bias".to_string(), Param::new(Tensor::zeros(&[width], DType::F32))),
        ];
        let before = p[1].1.value().to_vec::<f32>();
        let e = w.broadcast_parameters(p.clone()).unwrap_err();
        assert_eq!(p[1].1.value().to_vec::<f32>(), before, "nothing is copied");
        e.to_string()
    });
    for e in &errors {
        assert_eq!(
            e,
            "broadcast_parameters: rank 2 differs from rank 0 at parameter 1: \
             rank 0 has \"0.bias\" F32 [16], rank 2 has \"0.bias\" F32 [17]"
        );
    }
    let errors = on_ranks(2, |w| {
        let mut p = vec![("a".to_string(), Param::new(Tensor::zeros(&[1], DType::F32)))];
        if w.rank() == 1 {
            p.push(("b".to_string(), Param::new(Tensor::zeros(&[1], DType::F64))));
        }
        w.broadcast_parameters(p).unwrap_err().to_string()
    });
    assert!(errors.iter().all(|e| e.ends_with("rank 0 has no parameter, rank 1 has \"b\" F64 [1]")), "{errors:?}");
}

#[test]
fn diverged_parameters_are_reported() {
    let errors = on_ranks(3, |w| {
        let p = Param::new(Tensor::from_vec(vec![if w.rank() == 1 { 1.0f32 } else { 0.0 }], &[1]));
        w.check_same_parameters(vec![("p".to_string(), p)]).unwrap_err()
    });
    for e in errors {
        assert!(matches!(e, DistError::Diverged { rank: 1, .. }), "{e}");
        assert!(e.to_string().starts_with("check_same_parameters: rank 1's parameters differ from rank 0's (hash "));
    }
}

#[test]
fn shards_are_disjoint_complete_and_make_up_the_global_batches() {
    let data = common::dataset(DType::F32);
    let whole = DataLoader { batch_size: 64, shuffle: true, seed: 3, ..DataLoader::new(&data) };
    for ranks in 1..=5 {
        let shards = on_ranks(ranks, |w| {
            DataLoader { batch_size: 64, shuffle: true, seed: 3, shard: w.shard(), ..DataLoader::new(&data) }
                .index_batches(2)
        });
        for (k, global) in whole.index_batches(2).iter().enumerate() {
            let joined: Vec<usize> = shards.iter().flat_map(|s| s[k].clone()).collect();
            assert_eq!(&joined, global, "{ranks} ranks, batch {k}");
        }
        assert!(shards.iter().all(|s| s.len() == shards[0].len()), "every rank sees the same number of batches");
    }
    let e = Shard::new(2, 2).unwrap_err();
    assert_eq!(e.to_string(), "data: shard 2 of 2: the index must be below the count");
}

#[test]
fn sums_and_root_work_reach_every_rank() {
    let out = on_ranks(3, |w| {
        let sum = w.sum(&[w.rank() as f64, 1.0]).unwrap();
        let written = w.on_root(|| Ok::<_, String>(42)).unwrap();
        let failed = w.on_root(|| Err::<(), _>("disk full")).unwrap_err();
        w.log("only rank 0 prints this");
        (sum, written, failed)
    });
    for (rank, (sum, written, failed)) in out.into_iter().enumerate() {
        assert_eq!(sum, vec![3.0, 3.0]);
        assert_eq!(written, if rank == 0 { Some(42) } else { None });
        assert_eq!(failed.to_string(), "on_root: rank 0 failed: disk full");
    }
}

#[test]
fn one_ranks_bad_input_fails_every_rank_instead_of_hanging() {
    let errors = on_ranks(3, |w| {
        let p = param(vec![0.0; 4]);
        let mut averager = GradientAverager::new(vec![("p".to_string(), p.clone())]).unwrap();
        let mut grads = Gradients::new();
        let shape = if w.rank() == 1 { 3 } else { 4 };
        grads.set_param(p.id(), Tensor::zeros(&[shape], DType::F32));
        let shape_error = averager.average(&w, &mut grads).unwrap_err().to_string();
        grads.set_param(p.id(), Tensor::zeros(&[4], DType::F32));
        let weight = if w.rank() == 2 { -1.0 } else { 1.0 };
        let weight_error = averager.average_weighted(&w, &mut grads, weight).unwrap_err().to_string();
        // The next call, with good input everywhere, works.
        averager.average(&w, &mut grads).unwrap();
        // A parameter that changed size since the averager was made.
        if w.rank() == 0 {
            p.replace(Tensor::zeros(&[5], DType::F32));
        }
        let changed = averager.average(&w, &mut Gradients::new()).unwrap_err().to_string();
        (shape_error, weight_error, changed)
    });
    assert_eq!(errors[1].0, "average_gradients: parameter 0 has shape [4] but its gradient has shape [3]");
    for r in [0, 2] {
        assert_eq!(
            errors[r].0,
            "average_gradients: rank 1 failed: its gradient for parameter 0 does not have the parameter's shape"
        );
    }
    assert!(errors[2].1.starts_with("average_gradients: the weight must be finite"), "{}", errors[2].1);
    assert_eq!(errors[0].1, "average_gradients: rank 2 failed: its weight is not a finite number at least 0");
    assert_eq!(
        errors[0].2,
        "average_gradients: parameter 0 was F32 with 4 elements when the averager was made and is F32 with 5 elements now"
    );
    assert_eq!(
        errors[1].2,
        "average_gradients: rank 0 failed: its parameter 0 changed size or dtype since the averager was made"
    );
}

#[test]
fn averagers_with_different_lists_are_refused_on_first_use() {
    let errors = on_ranks(2, |w| {
        let (a, b) = (param(vec![0.0; 2]), param(vec![0.0; 2]));
        let mut list = vec![("a".to_string(), a), ("b".to_string(), b)];
        if w.rank() == 1 {
            list.reverse();
        }
        let mut averager = GradientAverager::new(list).unwrap();
        averager.average(&w, &mut Gradients::new()).unwrap_err().to_string()
    });
    assert!(
        errors.iter().all(|e| e.starts_with("average_gradients: rank 1 differs from rank 0 at parameter 0")),
        "{errors:?}"
    );
}

#[test]
fn agree_stops_every_rank_when_one_fails() {
    let out = on_ranks(3, |w| {
        let local: Result<usize, String> = if w.rank() == 2 { Err("no such file".into()) } else { Ok(w.rank()) };
        (w.agree(local).map_err(|e| e.to_string()), w.agree(Ok::<_, String>(7)).unwrap())
    });
    for (rank, (result, fine)) in out.into_iter().enumerate() {
        assert_eq!(result.unwrap_err(), "agree: rank 2 failed: no such file", "rank {rank}");
        assert_eq!(fine, 7);
    }
}

#[test]
fn ranks_making_different_calls_get_a_protocol_error() {
    let errors = on_ranks(2, |w| w.sum(&vec![1.0; 1 + w.rank()]).unwrap_err().to_string());
    assert_eq!(errors[0], "sum: expected 8 bytes from rank 1, got 16 (do all ranks make the same calls?)");
    assert_eq!(errors[1], "sum: expected 16 bytes from rank 0, got 8 (do all ranks make the same calls?)");
}

#[test]
fn a_rank_that_stops_or_stalls_fails_the_others_instead_of_hanging() {
    let results = threads(3, WAIT, |w| {
        if w.rank() == 1 {
            return Ok(vec![]);
        }
        w.sum(&[1.0])
    });
    for r in [&results[0], &results[2]] {
        let e = r.as_ref().unwrap().as_ref().unwrap_err();
        assert_eq!(e.to_string(), "sum: rank 1 stopped while the others waited for it");
    }
    let results = threads(2, Duration::from_millis(200), |w| {
        if w.rank() == 1 {
            std::thread::sleep(Duration::from_millis(1500));
        }
        w.barrier()
    });
    let e = results[0].as_ref().unwrap().as_ref().unwrap_err();
    assert_eq!(e.to_string(), "barrier: rank 0 waited more than 0.2 s for the other ranks");
    // The late rank does not complete the call with rank 0's stale post: it gets the failure.
    assert_eq!(results[1].as_ref().unwrap().as_ref().unwrap_err(), e);
    // A panicking rank fails the others too.
    let results = threads(2, WAIT, |w| {
        if w.rank() == 0 {
            panic!("rank 0 fails");
        }
        w.barrier()
    });
    assert!(results[0].is_err());
    assert!(matches!(results[1].as_ref().unwrap(), Err(DistError::PeerStopped { rank: 0, .. })));
}
