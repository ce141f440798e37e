//! The collective calls the data-parallel helpers are built on, on raw bytes.
//!
//! Three transports implement them: one process alone ([`Alone`]), threads of one process
//! ([`crate::threads`], for tests and experiments), and MPI (feature `mpi`). Another transport
//! (TCP, a GPU library) plugs in by implementing [`Transport`].

use crate::error::{DistError, Result};

/// Collective calls among `size` ranks. Every rank makes the same calls in the same order; a call
/// returns on a rank once that rank's part is done. `op` names the user-facing operation, for
/// errors. A transport that cannot complete a call (a rank stopped, a timeout) returns an error
/// on every rank it can reach, or ends the process with a message where it cannot.
pub trait Transport {
    fn rank(&self) -> usize;

    fn size(&self) -> usize;

    /// Rank `root`'s `buf` is copied into every other rank's `buf` (same length on every rank).
    fn broadcast(&self, op: &'static str, buf: &mut [u8], root: usize) -> Result<()>;

    /// Every rank's `mine` (lengths may differ), in rank order.
    fn all_gather(&self, op: &'static str, mine: &[u8]) -> Result<Vec<Vec<u8>>>;

    /// `send` holds `size` consecutive pieces, `send_counts[r]` bytes for rank `r`; `recv` gets
    /// every rank's piece for this one, in rank order, `recv_counts[r]` bytes from rank `r`.
    fn all_to_all(
        &self,
        op: &'static str,
        send: &[u8],
        send_counts: &[usize],
        recv: &mut [u8],
        recv_counts: &[usize],
    ) -> Result<()>;

    /// Every rank's `mine` (`counts[r]` bytes from rank `r`) into `recv`, in rank order.
    fn all_gather_into(&self, op: &'static str, mine: &[u8], recv: &mut [u8], counts: &[usize]) -> Result<()>;

    /// Returns once every rank has called it.
    fn barrier(&self, op: &'static str) -> Result<()>;
}

/// A world of one: every collective is a copy.
pub struct Alone;

impl Transport for Alone {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn broadcast(&self, _op: &'static str, _buf: &mut [u8], _root: usize) -> Result<()> {
        Ok(())
    }

    fn all_gather(&self, _op: &'static str, mine: &[u8]) -> Result<Vec<Vec<u8>>> {
        Ok(vec![mine.to_vec()])
    }

    fn all_to_all(&self, op: &'static str, send: &[u8], _: &[usize], recv: &mut [u8], _: &[usize]) -> Result<()> {
        copy_exact(op, 0, send, recv)
    }

    fn all_gather_into(&self, op: &'static str, mine: &[u8], recv: &mut [u8], _: &[usize]) -> Result<()> {
        copy_exact(op, 0, mine, recv)
    }

    fn barrier(&self, _op: &'static str) -> Result<()> {
        Ok(())
    }
}

/// `dst.copy_from_slice(src)`, or a protocol error naming the sizes.
pub(crate) fn copy_exact(op: &'static str, rank: usize, src: &[u8], dst: &mut [u8]) -> Result<()> {
    if src.len() != dst.len() {
        return Err(DistError::Protocol { op, rank, expected: dst.len(), got: src.len() });
    }
    dst.copy_from_slice(src);
    Ok(())
}

/// Plain numbers whose every bit pattern is a valid value, so their buffers can be sent as bytes.
///
/// # Safety
/// The type has no padding, no invalid bit patterns and no pointers: any bytes of its size are
/// a value of it.
pub unsafe trait Plain: Copy + Default + Send + Sync + 'static {}
// SAFETY: primitive numbers: no padding, every bit pattern a value.
unsafe impl Plain for u8 {}
// SAFETY: as above.
unsafe impl Plain for u64 {}
// SAFETY: as above.
unsafe impl Plain for i64 {}
// SAFETY: as above.
unsafe impl Plain for f32 {}
// SAFETY: as above.
unsafe impl Plain for f64 {}

/// The bytes of `values`.
pub fn bytes_of<T: Plain>(values: &[T]) -> &[u8] {
    // SAFETY: `Plain` types (an unsafe trait) have no padding and no invalid bit patterns; the byte slice covers
    // exactly the memory of `values` and borrows it.
    unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values)) }
}

/// The bytes of `values`, writable.
pub fn bytes_of_mut<T: Plain>(values: &mut [T]) -> &mut [u8] {
    // SAFETY: as in `bytes_of`; any bytes written form valid `T`s because every bit pattern of a
    // `Plain` type is a value.
    unsafe { std::slice::from_raw_parts_mut(values.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(values)) }
}
