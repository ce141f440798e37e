//! Data loading: IDX files (plain and gzip, good and broken, built here) and the loader.

use std::io::Write;
use std::path::{Path, PathBuf};

use nn::data::{read_idx, DataLoader, Dataset, Mnist, TensorDataset};
use nn::NnError;
use tensor::{DType, Tensor};

fn idx(code: u8, shape: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, code, shape.len() as u8];
    for d in shape {
        out.extend(d.to_be_bytes());
    }
    out.extend(data);
    out
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("backprop-idx-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn message(r: Result<impl std::fmt::Debug, NnError>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn idx_files_read_plain_and_gzipped_in_every_type() {
    let d = dir("types");
    let images = idx(0x08, &[2, 2, 3], &[0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
    let t = read_idx(write(&d, "plain", &images)).unwrap();
    assert_eq!((t.dtype(), t.shape()), (DType::U8, &[2usize, 2, 3][..]));
    assert_eq!(t.to_vec::<u8>()[11], 255);
    assert_eq!(read_idx(write(&d, "zipped.gz", &gz(&images))).unwrap().to_vec::<u8>(), t.to_vec::<u8>());
    let ints = idx(0x0C, &[2], &[0xff, 0xff, 0xff, 0xfe, 0, 0, 1, 0]);
    assert_eq!(read_idx(write(&d, "ints", &ints)).unwrap().to_vec::<i64>(), vec![-2, 256]);
    let floats = idx(0x0D, &[1], &1.5f32.to_be_bytes());
    assert_eq!(read_idx(write(&d, "floats", &floats)).unwrap().to_vec::<f32>(), vec![1.5]);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn broken_idx_files_are_clear_errors() {
    let d = dir("broken");
    let p = write(&d, "magic", &[1, 2, 3, 4, 5]);
    assert_eq!(
        message(read_idx(&p)),
        format!("{}: not an IDX file (it does not start with two zero bytes)", p.display())
    );
    let p = write(&d, "short", &idx(0x08, &[3, 2], &[1, 2, 3]));
    assert_eq!(
        message(read_idx(&p)),
        format!("{}: truncated: the header says [3, 2] (6 bytes of data), the file has 3 bytes of data", p.display())
    );
    let p = write(&d, "code", &idx(0x42, &[1], &[0]));
    assert_eq!(message(read_idx(&p)), format!("{}: unknown IDX type code 0x42", p.display()));
    let p = write(&d, "header", &[0, 0, 8, 3, 0, 0]);
    assert!(message(read_idx(&p)).contains("truncated header: 3 dimensions need 16 bytes"));
    let mut zipped = gz(&idx(0x08, &[4], &[1, 2, 3, 4]));
    let cut = zipped.len() - 6;
    zipped.truncate(cut);
    let p = write(&d, "cut.gz", &zipped);
    assert!(message(read_idx(&p)).contains("not a valid gzip file"), "{}", message(read_idx(&p)));
    assert!(message(read_idx(d.join("absent"))).contains("absent"));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn mnist_directories_load_and_mismatches_are_named() {
    let d = dir("mnist");
    let pixels: Vec<u8> = (0..3 * 2 * 2).map(|i| (i * 20) as u8).collect();
    write(&d, "train-images-idx3-ubyte.gz", &gz(&idx(0x08, &[3, 2, 2], &pixels)));
    write(&d, "train-labels-idx1-ubyte", &idx(0x08, &[3], &[7, 0, 9]));
    write(&d, "t10k-images-idx3-ubyte", &idx(0x08, &[1, 2, 2], &[0, 255, 0, 255]));
    write(&d, "t10k-labels-idx1-ubyte", &idx(0x08, &[1], &[3]));
    let m = Mnist::load(&d).unwrap();
    assert_eq!(m.train_images.shape(), &[3, 1, 2, 2]);
    assert_eq!(m.train_images.to_vec::<f32>()[1], 20.0 / 255.0);
    assert_eq!(m.train_labels.to_vec::<i64>(), vec![7, 0, 9]);
    assert_eq!(m.test_images.to_vec::<f32>(), vec![0.0, 1.0, 0.0, 1.0]);
    let labels = write(&d, "t10k-labels-idx1-ubyte", &idx(0x08, &[2], &[3, 4]));
    assert_eq!(
        message(Mnist::load(&d).map(|_| ())),
        format!("{}: 2 labels for 1 images in {}", labels.display(), d.join("t10k-images-idx3-ubyte").display())
    );
    std::fs::remove_file(labels).unwrap();
    assert!(
        message(Mnist::load(&d).map(|_| ())).contains("neither t10k-labels-idx1-ubyte nor t10k-labels-idx1-ubyte.gz")
    );
    std::fs::remove_dir_all(&d).ok();
}

fn dataset(n: usize) -> TensorDataset {
    let x = Tensor::arange(0.0, (2 * n) as f64, 1.0, DType::F32).reshape(&[n as isize, 2]);
    let y = Tensor::arange(0.0, n as f64, 1.0, DType::F64).to_dtype(DType::I64);
    TensorDataset::new(x, y).unwrap()
}

#[test]
fn the_loader_batches_shuffles_by_seed_and_drops_the_last_batch_on_request() {
    let data = dataset(10);
    let ordered = DataLoader { batch_size: 4, ..DataLoader::new(&data) };
    let first: Vec<Vec<i64>> = ordered.batches(0).map(|b| b.unwrap().1.to_vec::<i64>()).collect();
    assert_eq!(first, vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
    let (x, _) = ordered.batches(0).next().unwrap().unwrap();
    assert_eq!(x.to_vec::<f32>(), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);

    let shuffled = DataLoader { batch_size: 4, shuffle: true, seed: 3, ..DataLoader::new(&data) };
    let epoch = |e| shuffled.batches(e).flat_map(|b| b.unwrap().1.to_vec::<i64>()).collect::<Vec<i64>>();
    let (a, b) = (epoch(0), epoch(1));
    assert_eq!(a, epoch(0), "the same seed and epoch give the same order");
    assert_ne!(a, b, "each epoch has its own order");
    let mut sorted = a.clone();
    sorted.sort();
    assert_eq!(sorted, (0..10).collect::<Vec<i64>>(), "every example once per epoch");

    let dropping = DataLoader { batch_size: 4, drop_last: true, ..DataLoader::new(&data) };
    assert_eq!(dropping.batches(0).count(), 2);
}

#[test]
fn prefetching_gives_the_same_batches() {
    let data = dataset(37);
    let base = DataLoader { batch_size: 5, shuffle: true, seed: 9, ..DataLoader::new(&data) };
    let ahead =
        DataLoader { prefetch: true, ..DataLoader { batch_size: 5, shuffle: true, seed: 9, ..DataLoader::new(&data) } };
    let collect = |l: &DataLoader<TensorDataset>| {
        let mut out = Vec::new();
        l.for_each(2, |(_, y)| -> Result<(), NnError> {
            out.push(y.to_vec::<i64>());
            Ok(())
        })
        .unwrap();
        out
    };
    assert_eq!(collect(&base), collect(&ahead));
    // An error from the consumer stops the loop.
    let r = ahead.for_each(0, |_| -> Result<(), NnError> { Err(NnError::Data { msg: "stop".into() }) });
    assert_eq!(r.unwrap_err().to_string(), "data: stop");
    assert!(TensorDataset::new(Tensor::zeros(&[3, 2], DType::F32), Tensor::zeros(&[4], DType::I64)).is_err());
    assert_eq!(data.len(), 37);
}
