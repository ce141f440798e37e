//! Module state in safetensors files: a file PyTorch wrote loads into the same model, ours has
//! the same names, dtypes, shapes and bytes, and mismatches are reported with nothing changed.

use nn::{state, BatchNorm, Linear, Module, NnError, Relu, Sequential};
use tensor::{DType, Rng};

const TORCH_FILE: &[u8] = include_bytes!("data/torch_state.safetensors");

fn grid(shape: &[usize], a: f64, b: f64) -> Vec<f32> {
    let n: usize = shape.iter().product();
    (0..n).map(|i| ((a * i as f64 + b).sin() * 1.5) as f32).collect()
}

fn model(seed: u64) -> Sequential {
    let mut rng = Rng::seed(seed);
    Sequential::new()
        .add(Linear::new(3, 4, &mut rng))
        .add(Relu)
        .add(Linear::new(4, 2, &mut rng))
        .add(BatchNorm::new_1d(2, DType::F32))
}

fn values(m: &Sequential) -> Vec<(String, Vec<f64>)> {
    state::state_dict(m).into_iter().map(|(n, p)| (n, p.value().to_dtype(DType::F64).to_vec::<f64>())).collect()
}

#[test]
fn a_file_written_by_pytorch_loads_and_ours_matches_it() {
    let m = model(1);
    state::load_bytes(&m, TORCH_FILE, "torch_state.safetensors".as_ref()).unwrap();
    let named = m.named_parameters();
    assert_eq!(named["0.weight"].value().to_vec::<f32>(), grid(&[4, 3], 0.3, 0.1));
    assert_eq!(named["2.bias"].value().to_vec::<f32>(), grid(&[2], 0.9, 0.4));
    let buffers = m.named_buffers();
    assert_eq!(buffers["3.num_batches_tracked"].value().to_vec::<i64>(), vec![1]);
    assert!(buffers["3.running_var"].value().to_vec::<f32>().iter().all(|&v| v != 1.0), "running statistics moved");

    // Saved back, the file has exactly PyTorch's tensors.
    let ours = state::save_bytes(&m).unwrap();
    let (a, b) = (
        safetensors::SafeTensors::deserialize(&ours).unwrap(),
        safetensors::SafeTensors::deserialize(TORCH_FILE).unwrap(),
    );
    let mut names = a.names();
    names.sort();
    let mut theirs = b.names();
    theirs.sort();
    assert_eq!(names, theirs);
    for n in names {
        let (x, y) = (a.tensor(n).unwrap(), b.tensor(n).unwrap());
        assert_eq!((x.dtype(), x.shape(), x.data()), (y.dtype(), y.shape(), y.data()), "{n}");
    }
}

#[test]
fn save_and_load_round_trip_through_a_file() {
    let m = model(2);
    let path = std::env::temp_dir().join(format!("backprop-nn-state-{}.safetensors", std::process::id()));
    state::save(&m, &path).unwrap();
    let fresh = model(3);
    assert_ne!(values(&fresh), values(&m));
    state::load(&fresh, &path).unwrap();
    assert_eq!(values(&fresh), values(&m));
    std::fs::remove_file(&path).ok();
}

#[test]
fn mismatched_files_are_reported_and_change_nothing() {
    let bytes = state::save_bytes(&model(4)).unwrap();
    let other = {
        let mut rng = Rng::seed(5);
        Sequential::new().add(Linear::new(3, 5, &mut rng)).add(Relu).add(Linear::new(5, 2, &mut rng))
    };
    let before = values(&other);
    let err = state::load_bytes(&other, &bytes, "model.safetensors".as_ref()).unwrap_err();
    let NnError::Mismatch { missing, unexpected, mismatched } = &err else { panic!("{err}") };
    assert!(missing.is_empty());
    assert_eq!(unexpected, &["3.bias", "3.num_batches_tracked", "3.running_mean", "3.running_var", "3.weight"]);
    assert_eq!(mismatched.len(), 3, "{mismatched:?}");
    assert!(mismatched[0].starts_with("0.weight: f32[4, 3] in the file, f32[5, 3] in the module"), "{mismatched:?}");
    assert!(err.to_string().starts_with("load_state: the file does not fit the module"));
    assert_eq!(values(&other), before, "nothing was loaded");
    let truncated = state::load_bytes(&other, &bytes[..10], "cut.safetensors".as_ref()).unwrap_err();
    assert!(truncated.to_string().starts_with("cut.safetensors: not a readable safetensors file"), "{truncated}");
    assert!(state::load(&other, "/nonexistent/model.safetensors").is_err());
}
