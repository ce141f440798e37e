//! The data-parallel helpers over MPI (feature `mpi`): each test launches itself under
//! `mpirun -np N`, and the ranks run the test's body. Loopback only; `--oversubscribe` so that
//! three ranks run on two cores.
//!
//! `cargo test -p backprop-distributed --features mpi --test mpi`

#![cfg(feature = "mpi")]

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use distributed::{DistError, World};
use nn::data::DataLoader;
use nn::Module;
use tensor::DType;

/// Set in the ranks' environment: run the body, do not launch.
const CHILD: &str = "BACKPROP_MPI_TEST_CHILD";

/// Longest a launched job may take before the test calls it hung.
const HUNG: Duration = Duration::from_secs(120);

fn is_rank() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// Runs this test binary's test `name` under `mpirun -np ranks`; returns its output and how
/// long it took. A job still running after [`HUNG`] is killed and fails the test.
fn launch(name: &str, ranks: usize, env: &[(&str, &str)]) -> (Output, Duration) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new("mpirun");
    cmd.args(["-np", &ranks.to_string(), "--oversubscribe", "--bind-to", "none"])
        .arg(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        // CI runs as root; loopback shared memory without ptrace-based single copy (containers).
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        .env("RAYON_NUM_THREADS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().expect("mpirun (apt-get install openmpi-bin libopenmpi-dev)");
    while child.try_wait().expect("waiting for mpirun").is_none() {
        if start.elapsed() > HUNG {
            child.kill().ok();
            panic!("mpirun -np {ranks} {name} hung for more than {HUNG:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("mpirun's output");
    (out, start.elapsed())
}

/// The job's output as text, for assertion messages.
fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// In a rank of a launched job: starts MPI and runs the test's body.
fn run_rank(body: fn(&World)) {
    body(&distributed::init().unwrap());
}

/// A test whose body runs on every rank of an `mpirun -np $ranks` job, which must succeed.
macro_rules! on_ranks {
    ($name:ident, $ranks:expr, $body:expr) => {
        #[test]
        fn $name() {
            if is_rank() {
                return run_rank($body);
            }
            let (out, _) = launch(stringify!($name), $ranks, &[]);
            assert!(out.status.success(), "{}", text(&out));
        }
    };
}

on_ranks!(training_on_two_ranks_matches_the_single_process_run, 2, |world| {
    assert_eq!(world.size(), 2);
    for (dtype, tol) in [(DType::F32, 1e-6), (DType::F64, 1e-12)] {
        let (single, _) = common::train(None, dtype, 100);
        let (parallel, net) = common::train(Some(world), dtype, 100);
        common::assert_close(&parallel, &single, tol);
        // Repeated runs give the same bits.
        let (again, _) = common::train(Some(world), dtype, 100);
        assert_eq!(again, parallel);
        world.check_same_parameters(net.named_parameters()).unwrap();
    }
});

on_ranks!(training_on_three_ranks_with_uneven_shards_matches_too, 3, |world| {
    assert_eq!(world.size(), 3);
    let (single, _) = common::train(None, DType::F64, 100);
    let (parallel, _) = common::train(Some(world), DType::F64, 100);
    common::assert_close(&parallel, &single, 1e-12);
});

on_ranks!(shards_are_disjoint_and_complete, 2, |world| {
    let data = common::dataset(DType::F32);
    let loader = |shard| DataLoader { batch_size: 64, shuffle: true, seed: 9, shard, ..DataLoader::new(&data) };
    let mine: Vec<usize> = loader(world.shard()).index_batches(4).concat();
    let bytes: Vec<u8> = mine.iter().flat_map(|&i| (i as u64).to_le_bytes()).collect();
    let all = world.all_gather(&bytes).unwrap();
    let mut seen: Vec<usize> = all
        .iter()
        .flat_map(|b| b.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap()) as usize).collect::<Vec<_>>())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..data.inputs.shape()[0]).collect::<Vec<_>>(), "disjoint and complete");
});

on_ranks!(mpi_starts_once_per_process, 2, |world| {
    assert_eq!(world.size(), 2);
    let again = distributed::init().err().unwrap();
    assert_eq!(again.to_string(), "distributed::init: MPI is already initialised in this process");
});

on_ranks!(a_different_model_is_refused_with_the_first_difference, 2, |world| {
    let net = common::model(DType::F32, 0);
    let params = distributed::module_tensors(&net);
    if world.rank() == 1 {
        params[2].1.replace(params[2].1.value().to_dtype(DType::F64));
    }
    let e = world.broadcast_parameters(params).unwrap_err();
    assert!(matches!(e, DistError::ParameterMismatch { rank: 1, index: 2, .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "broadcast_parameters: rank 1 differs from rank 0 at parameter 2: \
         rank 0 has \"2.weight\" F32 [16, 16], rank 1 has \"2.weight\" F64 [16, 16]"
    );
});

on_ranks!(one_ranks_bad_gradient_fails_every_rank, 2, |world| {
    let net = common::model(DType::F32, 0);
    let mut averager = distributed::GradientAverager::new(net.named_parameters()).unwrap();
    let mut grads = autograd::Gradients::new();
    let weight = if world.rank() == 1 { f64::INFINITY } else { 1.0 };
    let e = averager.average_weighted(world, &mut grads, weight).unwrap_err();
    if world.rank() == 0 {
        assert_eq!(e.to_string(), "average_gradients: rank 1 failed: its weight is not a finite number at least 0");
    }
    // Both ranks go on together.
    world.barrier().unwrap();
});

on_ranks!(every_rank_resumes_from_rank_zeros_checkpoint, 2, |world| {
    let dir = std::env::temp_dir().join("backprop-mpi-checkpoint-test");
    let (_, trained) = common::train(Some(world), DType::F32, 20);
    world
        .on_root(|| {
            std::fs::create_dir_all(&dir)?;
            nn::state::save(&trained, dir.join("model.safetensors")).map_err(std::io::Error::other)
        })
        .unwrap();
    // A fresh model on every rank, each from its own seed, loads the same file.
    let fresh = common::model(DType::F32, 50 + world.rank() as u64);
    nn::state::load(&fresh, dir.join("model.safetensors")).unwrap();
    world.check_same_parameters(fresh.named_parameters()).unwrap();
    let values = |m: &nn::Sequential| m.parameters().iter().map(|p| p.value().to_vec::<f32>()).collect::<Vec<_>>();
    assert_eq!(values(&fresh), values(&trained));
    world.barrier().unwrap();
    world.on_root(|| std::fs::remove_dir_all(&dir)).unwrap();
});

/// A job that must fail: runs `$body` on the ranks and hands the parent the output and the time.
macro_rules! failing_job {
    ($name:ident, $ranks:expr, $env:expr, $body:expr, $check:expr) => {
        #[test]
        fn $name() {
            if is_rank() {
                return run_rank($body);
            }
            let (out, took) = launch(stringify!($name), $ranks, $env);
            assert!(!out.status.success(), "the job should have failed: {}", text(&out));
            let check: fn(&str, Duration) = $check;
            check(&text(&out), took);
        }
    };
}

failing_job!(
    a_panicking_rank_stops_the_job,
    2,
    &[],
    |world| {
        if world.rank() == 1 {
            panic!("rank 1 gives up");
        }
        world.barrier().unwrap();
        std::thread::sleep(Duration::from_secs(600));
    },
    |out, took| {
        assert!(out.contains("rank 1 panicked; aborting every rank (MPI_Abort)"), "{out}");
        assert!(took < Duration::from_secs(60), "took {took:?}");
    }
);

failing_job!(
    a_killed_rank_stops_the_job,
    2,
    &[],
    |world| {
        if world.rank() == 1 {
            let pid = std::process::id().to_string();
            Command::new("kill").args(["-9", &pid]).status().unwrap();
        }
        world.barrier().unwrap();
        std::thread::sleep(Duration::from_secs(600));
    },
    |out, took| {
        assert!(took < Duration::from_secs(60), "took {took:?}: {out}");
    }
);

failing_job!(
    a_stuck_rank_times_the_others_out,
    2,
    &[("BACKPROP_DIST_TIMEOUT", "2")],
    |world| {
        if world.rank() == 1 {
            std::thread::sleep(Duration::from_secs(600));
        }
        world.barrier().unwrap();
    },
    |out, took| {
        assert!(
            out.contains("backprop-distributed: barrier: rank 0 waited more than 2 s for the other ranks"),
            "{out}"
        );
        assert!(took < Duration::from_secs(60), "took {took:?}");
    }
);
