//! Several slices walked together in one pass: the shape of every fused update (an optimizer
//! reads a parameter, its gradient and its state once and writes them once).
//!
//! [`zip_lanes`] takes a tuple of equally long slices, any mix of `&mut [T]` (written) and
//! `&[T]` (read), splits them into chunks across the rayon pool above the crate's size
//! threshold ([`parallel`](crate::parallel)), and runs the kernel on each chunk compiled for
//! the best vector extension the CPU has (AVX-512, AVX2 or the baseline), chosen at run time as
//! the elementwise maps are.
//!
//! ```
//! use tensor::lanes::zip_lanes;
//! // p -= lr * g, with a momentum buffer: one pass over three slices.
//! let (mut p, mut buf, g) = (vec![1.0f32; 8], vec![0.0f32; 8], vec![0.5f32; 8]);
//! zip_lanes((&mut p[..], &mut buf[..], &g[..]), |(p, buf, g)| {
//!     for ((p, b), &g) in p.iter_mut().zip(buf.iter_mut()).zip(g) {
//!         *b = 0.9 * *b + g;
//!         *p -= 0.1 * *b;
//!     }
//! })
//! .unwrap();
//! assert_eq!(p[0], 0.95);
//! ```

use crate::error::{Result, TensorError};
use crate::parallel;

/// One slice of a [`Lanes`] tuple: `&mut [T]` or `&[T]`.
pub trait Lane: Send + Sized {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The two halves `[..mid]` and `[mid..]`.
    fn split_at(self, mid: usize) -> (Self, Self);
}

impl<T: Send> Lane for &mut [T] {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        self.split_at_mut(mid)
    }
}

impl<T: Sync> Lane for &[T] {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        <[T]>::split_at(self, mid)
    }
}

/// A tuple of [`Lane`]s walked together (up to six).
pub trait Lanes: Send + Sized {
    /// The length of each slice, in order.
    fn lens(&self) -> Vec<usize>;
    /// Whether every slice has the first one's length.
    fn same_len(&self) -> bool;
    /// The length (of the first slice).
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Every slice split at `mid`.
    fn split_at(self, mid: usize) -> (Self, Self);
}

macro_rules! lanes_tuple {
    ($($L:ident $v:ident $i:tt),+) => {
        impl<$($L: Lane),+> Lanes for ($($L,)+) {
            fn lens(&self) -> Vec<usize> {
                vec![$(self.$i.len()),+]
            }
            fn same_len(&self) -> bool {
                let n = self.0.len();
                true $(&& self.$i.len() == n)+
            }
            fn len(&self) -> usize {
                self.0.len()
            }
            fn split_at(self, mid: usize) -> (Self, Self) {
                $(let $v = self.$i.split_at(mid);)+
                (($($v.0,)+), ($($v.1,)+))
            }
        }
    };
}

lanes_tuple!(A a 0);
lanes_tuple!(A a 0, B b 1);
lanes_tuple!(A a 0, B b 1, C c 2);
lanes_tuple!(A a 0, B b 1, C c 2, D d 3);
lanes_tuple!(A a 0, B b 1, C c 2, D d 3, E e 4);
lanes_tuple!(A a 0, B b 1, C c 2, D d 3, E e 4, F f 5);

/// Runs `kernel` over `lanes` (slices of one length) in chunks: on the calling thread below
/// [`parallel::MIN_PARALLEL_ELEMS`] elements, across the rayon pool above it, each chunk
/// compiled for the CPU's widest vector extension. Slices of different lengths are an error
/// (and nothing runs).
pub fn zip_lanes<L: Lanes>(lanes: L, kernel: impl Fn(L) + Sync + Send) -> Result<()> {
    if !lanes.same_len() {
        return Err(TensorError::invalid("zip_lanes", format!("slices of different lengths {:?}", lanes.lens())));
    }
    let n = lanes.len();
    if !parallel::should_parallelize(n) {
        vectorized(&kernel, lanes);
    } else {
        split(lanes, parallel::chunk_len(n), &kernel);
    }
    Ok(())
}

/// Halves until a piece is at most `chunk` long, the halves on both sides of a rayon join.
fn split<L: Lanes, F: Fn(L) + Sync>(lanes: L, chunk: usize, kernel: &F) {
    let n = lanes.len();
    if n <= chunk {
        vectorized(kernel, lanes);
        return;
    }
    // Split on a multiple of 64 elements so chunks stay aligned with the vectors.
    let mid = (n / 2).next_multiple_of(64).min(n);
    let (a, b) = lanes.split_at(mid);
    rayon::join(|| split(a, chunk, kernel), || split(b, chunk, kernel));
}

/// Calls `kernel(lanes)` compiled for the widest vector extension available.
#[inline]
fn vectorized<L, F: Fn(L)>(kernel: &F, lanes: L) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { simd::avx512(kernel, lanes) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            return unsafe { simd::avx2(kernel, lanes) };
        }
    }
    kernel(lanes)
}

#[cfg(target_arch = "x86_64")]
mod simd {
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn avx512<L, F: Fn(L)>(kernel: &F, lanes: L) {
        kernel(lanes)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2<L, F: Fn(L)>(kernel: &F, lanes: L) {
        kernel(lanes)
    }
}
