//! `World`: this process's place among the ranks, and the small collectives a training loop needs.

use std::fmt::Display;
use std::time::Duration;

use nn::data::Shard;

use crate::error::{DistError, Result};
use crate::transport::{bytes_of, Alone, Transport};

/// How long a collective call waits for the other ranks before giving up, unless
/// `BACKPROP_DIST_TIMEOUT` (seconds) says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The ranks taking part in a data-parallel run, as seen from one of them.
///
/// Every method that communicates is collective: all ranks call it, in the same order.
pub struct World {
    transport: Box<dyn Transport>,
}

/// Starts the world this process belongs to. Under `mpirun` (feature `mpi`) that is MPI's
/// world; launched alone, or without the feature, a world of one, where every collective is a
/// copy, so a data-parallel script also runs as a plain program.
///
/// A collective call that waits longer than `BACKPROP_DIST_TIMEOUT` seconds (default 300) for
/// the others ends the process with a message, and `mpirun` then stops the job.
pub fn init() -> Result<World> {
    let timeout = std::env::var("BACKPROP_DIST_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs_f64);
    init_with_timeout(timeout)
}

/// [`init`] with an explicit timeout for collective calls (at least a millisecond).
pub fn init_with_timeout(timeout: Duration) -> Result<World> {
    let timeout = timeout.max(Duration::from_millis(1));
    #[cfg(feature = "mpi")]
    {
        Ok(World::new(Box::new(crate::mpi::MpiTransport::init(timeout)?)))
    }
    #[cfg(not(feature = "mpi"))]
    {
        let _ = timeout;
        Ok(World::alone())
    }
}

impl World {
    /// A world on any transport.
    pub fn new(transport: Box<dyn Transport>) -> World {
        World { transport }
    }

    /// A world of one process.
    pub fn alone() -> World {
        World::new(Box::new(Alone))
    }

    /// This process's rank, `0..size`.
    pub fn rank(&self) -> usize {
        self.transport.rank()
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.transport.size()
    }

    /// Whether this is rank 0, which logs and writes checkpoints.
    pub fn is_root(&self) -> bool {
        self.rank() == 0
    }

    pub(crate) fn transport(&self) -> &dyn Transport {
        &*self.transport
    }

    /// This rank's share of every batch, for [`nn::data::DataLoader::shard`].
    pub fn shard(&self) -> Shard {
        Shard::new(self.rank(), self.size()).unwrap_or_default()
    }

    /// Waits for every rank.
    pub fn barrier(&self) -> Result<()> {
        self.transport.barrier("barrier")
    }

    /// The element-wise sum of every rank's `values`, added in rank order, so every rank gets
    /// the same bits on every run (for metrics: losses, counts). All ranks pass the same length.
    pub fn sum(&self, values: &[f64]) -> Result<Vec<f64>> {
        let op = "sum";
        let all = self.transport.all_gather(op, bytes_of(values))?;
        let mut out = vec![0.0f64; values.len()];
        for (rank, theirs) in all.iter().enumerate() {
            if theirs.len() != 8 * values.len() {
                return Err(DistError::Protocol { op, rank, expected: 8 * values.len(), got: theirs.len() });
            }
            for (o, b) in out.iter_mut().zip(theirs.chunks_exact(8)) {
                *o += f64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
            }
        }
        Ok(out)
    }

    /// Every rank's `bytes` (lengths may differ), in rank order.
    pub fn all_gather(&self, bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
        self.transport.all_gather("all_gather", bytes)
    }

    /// Every rank learns whether every rank's `local` result is `Ok`: a rank's own error stays
    /// its own, and the other ranks get [`DistError::RankFailed`] with its message (the lowest
    /// failing rank's). For work each rank does alone before the next collective call (reading
    /// a checkpoint, say), so that one rank's failure stops all of them instead of leaving the
    /// rest waiting.
    pub fn agree<T, E: Display>(&self, local: std::result::Result<T, E>) -> Result<T> {
        let op = "agree";
        let post = match &local {
            Ok(_) => Vec::new(),
            Err(e) => {
                let msg = format!("{e}");
                if msg.is_empty() {
                    "failed".into()
                } else {
                    msg.into_bytes()
                }
            }
        };
        let all = self.transport.all_gather(op, &post)?;
        match all.iter().position(|m| !m.is_empty()) {
            None => local.map_err(|e| DistError::RankFailed { op, rank: self.rank(), msg: format!("{e}") }),
            Some(rank) => {
                Err(DistError::RankFailed { op, rank, msg: String::from_utf8_lossy(&all[rank]).into_owned() })
            }
        }
    }

    /// Prints `msg` on rank 0 only.
    pub fn log(&self, msg: impl Display) {
        if self.is_root() {
            println!("{msg}");
        }
    }

    /// Runs `f` on rank 0 only (writing a checkpoint, say), then tells every rank how it went: all
    /// ranks return `Ok` after rank 0's `f` succeeded (rank 0 with its result), or
    /// [`DistError::RootFailed`] with its message. So no rank reads a checkpoint before it is
    /// written, and a failed write stops every rank.
    pub fn on_root<T, E: Display>(&self, f: impl FnOnce() -> std::result::Result<T, E>) -> Result<Option<T>> {
        let op = "on_root";
        let (out, mut status) = if self.is_root() {
            match f() {
                Ok(v) => (Some(v), Vec::new()),
                // An empty status means success, so a failure always says something.
                Err(e) => {
                    let msg = format!("{e}");
                    (None, if msg.is_empty() { "failed".into() } else { msg.into_bytes() })
                }
            }
        } else {
            (None, Vec::new())
        };
        // The status travels as a length, then the message.
        let mut len = (status.len() as u64).to_le_bytes();
        self.transport.broadcast(op, &mut len, 0)?;
        status.resize(u64::from_le_bytes(len) as usize, 0);
        self.transport.broadcast(op, &mut status, 0)?;
        if status.is_empty() {
            Ok(out)
        } else {
            Err(DistError::RootFailed { op, msg: String::from_utf8_lossy(&status).into_owned() })
        }
    }
}
