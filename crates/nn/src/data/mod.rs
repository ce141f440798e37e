//! Data loading: datasets, a batching loader with seeded shuffling, and the IDX (MNIST) format.

mod idx;
mod loader;

pub use idx::{read_idx, Mnist};
pub use loader::{DataLoader, Dataset, Shard, TensorDataset};
