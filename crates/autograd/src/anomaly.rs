//! Anomaly detection (`Tape::set_detect_anomaly`): a NaN or infinity computed while it is on
//! is an error naming the op and the equation's line in the tape's listing.

use tensor::Tensor;

use crate::error::{AutogradError, Result};
use crate::tape::{NodeId, Tape};

impl Tape {
    /// Checks a freshly computed value in anomaly mode.
    pub(crate) fn check_anomaly(&self, what: &'static str, id: NodeId, value: &Tensor) -> Result<()> {
        if !self.anomaly() || !value.dtype().is_float() {
            return Ok(());
        }
        let kind = if value.ne(value).sum_all().item() > 0.0 {
            "NaN"
        } else if value.abs().eq_scalar(f64::INFINITY).sum_all().item() > 0.0 {
            "infinity"
        } else {
            return Ok(());
        };
        let g = self.0.borrow();
        let op = g.nodes[id.index()].op.to_string();
        let (line, equation) = crate::print::equation_line(&g.nodes, id);
        Err(AutogradError::Anomaly { what, op, kind, line, equation })
    }
}
