//! The MPI transport (feature `mpi`): rsmpi over the system's MPI (Debian's OpenMPI).
//!
//! Faults: MPI's default error handler ends the whole job on a communication error; a panic on
//! any rank calls `MPI_Abort` (from the thread that started MPI; from any other thread, which
//! may not call MPI, the process aborts and `mpirun` stops the job), so no rank is left waiting;
//! and a watchdog thread aborts the process with a message when a collective call waits longer
//! than the timeout (a rank stuck in a loop or stopped by a debugger). The watchdog never calls
//! MPI, and it aborts rather than exits, so no exit handler runs beside an MPI call in progress.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use mpi::collective::{CommunicatorCollectives, Root};
use mpi::datatype::{Partition, PartitionMut};
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::Count;

use crate::error::{DistError, Result};
use crate::transport::{copy_exact, Transport};

/// Error code a panicking rank passes to `MPI_Abort`.
pub const PANIC_ABORT_CODE: i32 = 101;

pub(crate) struct MpiTransport {
    // Dropping the universe finalises MPI: it goes last, after the communicator.
    world: SimpleCommunicator,
    watchdog: Arc<Watchdog>,
    _universe: mpi::environment::Universe,
}

impl MpiTransport {
    pub(crate) fn init(timeout: Duration) -> Result<MpiTransport> {
        let universe = mpi::initialize().ok_or(DistError::AlreadyInitialised)?;
        let world = universe.world();
        let rank = world.rank() as usize;
        install_abort_on_panic(rank, std::thread::current().id());
        let watchdog = Watchdog::start(rank, timeout);
        Ok(MpiTransport { world, watchdog, _universe: universe })
    }

    /// Runs one MPI call under the watchdog.
    fn guarded<R>(&self, op: &'static str, call: impl FnOnce() -> R) -> R {
        self.watchdog.arm(op);
        let out = call();
        self.watchdog.disarm();
        out
    }
}

impl Drop for MpiTransport {
    fn drop(&mut self) {
        self.watchdog.stop();
    }
}

/// MPI counts are `int`s: a message whose buffer reaches 2 GiB is refused, not truncated.
const LIMIT: usize = Count::MAX as usize;

/// Counts and displacements for a buffer cut into `sizes`, or `TooLarge`. Callers pass sizes
/// every rank knows (or that every rank's own sizes bound), so all ranks refuse together.
fn counts(op: &'static str, sizes: &[usize]) -> Result<(Vec<Count>, Vec<Count>)> {
    let total: usize = sizes.iter().sum();
    if total > LIMIT {
        return Err(DistError::TooLarge { op, bytes: total, limit: LIMIT });
    }
    let mut displs = Vec::with_capacity(sizes.len());
    let mut at = 0;
    for &s in sizes {
        displs.push(at as Count);
        at += s;
    }
    Ok((sizes.iter().map(|&s| s as Count).collect(), displs))
}

/// Largest single broadcast; bigger buffers go in pieces (MPI counts are `int`s).
const PIECE: usize = 1 << 30;

impl Transport for MpiTransport {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn broadcast(&self, op: &'static str, buf: &mut [u8], root: usize) -> Result<()> {
        let root = self.world.process_at_rank(root as mpi::Rank);
        for piece in buf.chunks_mut(PIECE) {
            self.guarded(op, || root.broadcast_into(piece));
        }
        Ok(())
    }

    fn all_gather(&self, op: &'static str, mine: &[u8]) -> Result<Vec<Vec<u8>>> {
        let mut lens = vec![0u64; self.size()];
        self.guarded(op, || self.world.all_gather_into(&(mine.len() as u64), &mut lens[..]));
        let sizes: Vec<usize> = lens.iter().map(|&l| l as usize).collect();
        // Every rank knows every length: all refuse a total MPI cannot count, together.
        counts(op, &sizes)?;
        let mut all = vec![0u8; sizes.iter().sum()];
        self.all_gather_into(op, mine, &mut all, &sizes)?;
        let mut out = Vec::with_capacity(sizes.len());
        let mut at = 0;
        for s in sizes {
            out.push(all[at..at + s].to_vec());
            at += s;
        }
        Ok(out)
    }

    fn all_to_all(
        &self,
        op: &'static str,
        send: &[u8],
        send_counts: &[usize],
        recv: &mut [u8],
        recv_counts: &[usize],
    ) -> Result<()> {
        let (sc, sd) = counts(op, send_counts)?;
        let (rc, rd) = counts(op, recv_counts)?;
        let send = Partition::new(send, sc, sd);
        let mut recv = PartitionMut::new(recv, rc, rd);
        self.guarded(op, || self.world.all_to_all_varcount_into(&send, &mut recv));
        Ok(())
    }

    fn all_gather_into(&self, op: &'static str, mine: &[u8], recv: &mut [u8], sizes: &[usize]) -> Result<()> {
        let rank = self.rank();
        if self.size() == 1 {
            return copy_exact(op, rank, mine, recv);
        }
        // Every rank knows the counts, so all skip together; OpenMPI refuses the empty buffers'
        // shared dangling address as an aliased send and receive buffer.
        if sizes.iter().all(|&s| s == 0) {
            return Ok(());
        }
        let (c, d) = counts(op, sizes)?;
        let mut recv = PartitionMut::new(recv, c, d);
        self.guarded(op, || self.world.all_gather_varcount_into(mine, &mut recv));
        Ok(())
    }

    fn barrier(&self, op: &'static str) -> Result<()> {
        self.guarded(op, || self.world.barrier());
        Ok(())
    }
}

/// A panic on one rank must not leave the others waiting in a collective: after the panic
/// message, the whole job is aborted (also for a panic the program would catch: a rank that
/// unwinds past a collective cannot rejoin the others' sequence of calls).
fn install_abort_on_panic(rank: usize, mpi_thread: std::thread::ThreadId) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        if !mpi::environment::is_initialized() || mpi::environment::is_finalized() {
            return;
        }
        eprintln!("backprop-distributed: rank {rank} panicked; aborting every rank (MPI_Abort)");
        if std::thread::current().id() == mpi_thread {
            SimpleCommunicator::world().abort(PANIC_ABORT_CODE);
        }
        // Only the thread that started MPI may call it: elsewhere, end the process, and mpirun
        // ends the job.
        std::process::abort();
    }));
}

/// Ends the process when one collective call takes longer than `timeout`.
struct Watchdog {
    state: Mutex<WatchState>,
    changed: Condvar,
}

struct WatchState {
    /// The call in progress and when it started.
    armed: Option<(&'static str, Instant)>,
    stop: bool,
}

impl Watchdog {
    fn start(rank: usize, timeout: Duration) -> Arc<Watchdog> {
        let dog =
            Arc::new(Watchdog { state: Mutex::new(WatchState { armed: None, stop: false }), changed: Condvar::new() });
        let watcher = dog.clone();
        std::thread::spawn(move || watcher.watch(rank, timeout));
        dog
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WatchState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn arm(&self, op: &'static str) {
        self.lock().armed = Some((op, Instant::now()));
        self.changed.notify_all();
    }

    fn disarm(&self) {
        self.lock().armed = None;
    }

    fn stop(&self) {
        self.lock().stop = true;
        self.changed.notify_all();
    }

    fn watch(&self, rank: usize, timeout: Duration) {
        let mut state = self.lock();
        loop {
            if state.stop {
                return;
            }
            match state.armed {
                None => state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner()),
                Some((op, since)) => {
                    let waited = since.elapsed();
                    if waited >= timeout {
                        let error = DistError::Timeout { op, rank, seconds: timeout.as_secs_f64() };
                        eprintln!("backprop-distributed: {error}; aborting this rank so that mpirun stops the job");
                        std::process::abort();
                    }
                    let left = timeout.saturating_sub(waited).max(Duration::from_millis(1));
                    state = self.changed.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
                }
            }
        }
    }
}
