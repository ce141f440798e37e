//! The MPI transport (feature `mpi`): rsmpi over the system's MPI (Debian's OpenMPI).
//!
//! Faults: MPI's default error handler ends the whole job on a communication error; a panic on
//! any rank calls `MPI_Abort`, so `mpirun` stops every rank at once instead of leaving the
//! others waiting; and a watchdog thread ends the process with a message when a collective call
//! waits longer than the timeout (a rank stuck in a loop or stopped by a debugger).

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use mpi::collective::{CommunicatorCollectives, Root};
use mpi::datatype::{Partition, PartitionMut};
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::Count;

use crate::error::{DistError, Result};
use crate::transport::{copy_exact, Transport};

/// Exit status of a rank whose watchdog fired.
pub const TIMEOUT_EXIT_CODE: i32 = 124;

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
        install_abort_on_panic(rank);
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

/// MPI counts are `int`s: a message of 2 GiB or more is refused instead of truncated.
fn counts(op: &'static str, rank: usize, sizes: &[usize]) -> Result<(Vec<Count>, Vec<Count>)> {
    let mut displs = Vec::with_capacity(sizes.len());
    let mut at = 0usize;
    for &s in sizes {
        displs.push(at);
        at += s;
    }
    let too_big = |_| DistError::Protocol { op, rank, expected: Count::MAX as usize, got: at };
    let c = sizes.iter().map(|&s| Count::try_from(s).map_err(too_big)).collect::<Result<Vec<_>>>()?;
    let d = displs.iter().map(|&s| Count::try_from(s).map_err(too_big)).collect::<Result<Vec<_>>>()?;
    Ok((c, d))
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
        let rank = self.rank();
        let (sc, sd) = counts(op, rank, send_counts)?;
        let (rc, rd) = counts(op, rank, recv_counts)?;
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
        let (c, d) = counts(op, rank, sizes)?;
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
fn install_abort_on_panic(rank: usize) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        if mpi::environment::is_initialized() && !mpi::environment::is_finalized() {
            eprintln!("backprop-distributed: rank {rank} panicked; aborting every rank (MPI_Abort)");
            SimpleCommunicator::world().abort(PANIC_ABORT_CODE);
        }
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
                        eprintln!("backprop-distributed: {error}; ending this rank so that mpirun stops the job");
                        std::process::exit(TIMEOUT_EXIT_CODE);
                    }
                    state = self.changed.wait_timeout(state, timeout - waited).unwrap_or_else(|e| e.into_inner()).0;
                }
            }
        }
    }
}
