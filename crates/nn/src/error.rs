//! The `nn` crate's own errors (layers and losses report `autograd`'s).

/// What went wrong saving or loading a module's state.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum NnError {
    /// The file cannot be read or written, or is not a safetensors file.
    #[error("{path}: {msg}")]
    File { path: String, msg: String },

    /// A dataset or loader was given data it cannot use.
    #[error("data: {msg}")]
    Data { msg: String },

    /// The file's tensors do not fit the module; nothing was loaded.
    #[error("load_state: the file does not fit the module (missing: {missing:?}; unexpected: {unexpected:?}; mis-shaped: {mismatched:?}); nothing was loaded")]
    Mismatch { missing: Vec<String>, unexpected: Vec<String>, mismatched: Vec<String> },
}
