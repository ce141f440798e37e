//! Printing like PyTorch: `tensor([[1.0000, 2.0000], ...], dtype=f64)`, summarised with `...`
//! past 1000 elements.

use std::fmt;

use crate::dtype::Element;
use crate::macros::any_dispatch;
use crate::{DType, Tensor};

/// Tensors with more elements than this print summarised.
const SUMMARIZE_ABOVE: usize = 1000;
/// Elements kept at each end of a summarised dimension.
const EDGE: usize = 3;

/// How every element of one tensor is written, decided once so columns line up.
enum Style {
    /// All values are integers: `1.`, `-3.`.
    IntFloat,
    /// Fixed point with 4 decimals.
    Fixed,
    /// Scientific with 4 decimals, for very large or small magnitudes.
    Sci,
    /// Integer and bool dtypes, printed as they are.
    Plain,
}

fn choose_style(values: &[f64], dtype: DType) -> Style {
    if !dtype.is_float() {
        return Style::Plain;
    }
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.iter().all(|v| v.fract() == 0.0) && finite.iter().all(|v| v.abs() < 1e8) {
        return Style::IntFloat;
    }
    let nonzero: Vec<f64> = finite.iter().map(|v| v.abs()).filter(|&v| v > 0.0).collect();
    let max = nonzero.iter().copied().fold(0.0, f64::max);
    let min = nonzero.iter().copied().fold(f64::INFINITY, f64::min);
    if max >= 1e8 || (min < 1e-4 && min > 0.0) || (max / min > 1000.0 && max > 1.0) {
        Style::Sci
    } else {
        Style::Fixed
    }
}

fn format_value(v: f64, style: &Style, dtype: DType) -> String {
    if dtype.is_float() && !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    match style {
        Style::IntFloat => format!("{v:.0}."),
        Style::Fixed => format!("{v:.4}"),
        Style::Sci => format!("{v:.4e}"),
        Style::Plain => match dtype {
            DType::Bool => (if v != 0.0 { "true" } else { "false" }).into(),
            _ => format!("{v}"),
        },
    }
}

/// Indices shown along a dimension of `size` (`None` marks the `...`).
fn shown(size: usize, summarize: bool) -> Vec<Option<usize>> {
    if summarize && size > 2 * EDGE {
        (0..EDGE).map(Some).chain([None]).chain((size - EDGE..size).map(Some)).collect()
    } else {
        (0..size).map(Some).collect()
    }
}

struct Printer<'a> {
    shape: &'a [usize],
    strides: &'a [usize],
    offset: usize,
    values: &'a dyn Fn(usize) -> f64,
    summarize: bool,
}

impl Printer<'_> {
    /// Collects the shown elements (in print order) to pick one style and width for all.
    fn collect(&self, dim: usize, off: usize, out: &mut Vec<f64>) {
        if dim == self.shape.len() {
            out.push((self.values)(off));
            return;
        }
        for i in shown(self.shape[dim], self.summarize).into_iter().flatten() {
            self.collect(dim + 1, off + i * self.strides[dim], out);
        }
    }

    fn write(
        &self,
        f: &mut fmt::Formatter<'_>,
        dim: usize,
        off: usize,
        indent: usize,
        cell: &dyn Fn(f64) -> String,
    ) -> fmt::Result {
        if dim == self.shape.len() {
            return f.write_str(&cell((self.values)(off)));
        }
        f.write_str("[")?;
        let last_dim = dim + 1 == self.shape.len();
        let items = shown(self.shape[dim], self.summarize);
        for (n, item) in items.iter().enumerate() {
            if n > 0 {
                if last_dim {
                    f.write_str(", ")?;
                } else {
                    f.write_str(",")?;
                    for _ in 0..(self.shape.len() - dim - 1) {
                        f.write_str("\n")?;
                    }
                    write!(f, "{:indent$}", "", indent = indent + 1)?;
                }
            }
            match item {
                Some(i) => self.write(f, dim + 1, off + i * self.strides[dim], indent + 1, cell)?,
                None => f.write_str("...")?,
            }
        }
        f.write_str("]")
    }
}

fn render<T: Element>(t: &Tensor, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let data = t.storage_slice::<T>();
    let values = |i: usize| data[i].to_f64();
    let p = Printer {
        shape: t.shape(),
        strides: t.strides(),
        offset: t.layout.offset,
        values: &values,
        summarize: t.numel() > SUMMARIZE_ABOVE,
    };
    let mut shown_values = Vec::new();
    p.collect(0, p.offset, &mut shown_values);
    let style = choose_style(&shown_values, t.dtype());
    let width = shown_values.iter().map(|&v| format_value(v, &style, t.dtype()).len()).max().unwrap_or(0);
    let cell = |v: f64| format!("{:>width$}", format_value(v, &style, t.dtype()));
    f.write_str("tensor(")?;
    if t.numel() == 0 {
        write!(f, "[], size={:?}", t.shape())?;
    } else {
        p.write(f, 0, p.offset, "tensor(".len(), &cell)?;
    }
    write!(f, ", dtype={})", t.dtype())
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        any_dispatch!(self.dtype(), T => render::<T>(self, f))
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor(shape={:?}, strides={:?}, offset={}) ", self.shape(), self.strides(), self.layout.offset)?;
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use crate::{DType, Tensor};

    #[test]
    fn prints_like_torch() {
        let t = Tensor::from_vec(vec![1.5f64, -2.0, 3.25, 4.0], &[2, 2]);
        assert_eq!(t.to_string(), "tensor([[ 1.5000, -2.0000],\n        [ 3.2500,  4.0000]], dtype=f64)");
        let i = Tensor::arange(0.0, 3.0, 1.0, DType::I64);
        assert_eq!(i.to_string(), "tensor([0, 1, 2], dtype=i64)");
        let f = Tensor::arange(0.0, 3.0, 1.0, DType::F32);
        assert_eq!(f.to_string(), "tensor([0., 1., 2.], dtype=f32)");
        let s = Tensor::scalar(2.5f32);
        assert_eq!(s.to_string(), "tensor(2.5000, dtype=f32)");
        let m = Tensor::from_vec(vec![true, false], &[2]);
        assert_eq!(m.to_string(), "tensor([ true, false], dtype=bool)");
    }

    #[test]
    fn summarizes_large_tensors() {
        let t = Tensor::arange(0.0, 2000.0, 1.0, DType::I64).reshape(&[2, 1000]);
        assert_eq!(
            t.to_string(),
            "tensor([[   0,    1,    2, ...,  997,  998,  999],\n        [1000, 1001, 1002, ..., 1997, 1998, 1999]], dtype=i64)"
        );
    }

    #[test]
    fn prints_3d_with_blank_lines() {
        let t = Tensor::arange(0.0, 8.0, 1.0, DType::I64).reshape(&[2, 2, 2]);
        assert_eq!(
            t.to_string(),
            "tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]], dtype=i64)"
        );
    }
}
