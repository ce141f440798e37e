//! A world of threads in one process: the same collectives as MPI, through shared memory.
//!
//! For tests of data-parallel code without `mpirun`, and for trying a training script with
//! several ranks on one machine. Every collective is an all-gather on a shared board, which is
//! simple rather than fast.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{DistError, Result};
use crate::transport::{copy_exact, Transport};
use crate::world::World;

/// Runs `f` on `size` threads, each with its own [`World`] of that size, and returns their
/// results in rank order (a thread that panicked gives its panic). A rank that returns or panics
/// while others wait for it in a collective makes them fail with [`DistError::PeerStopped`];
/// a collective that waits longer than `timeout` fails with [`DistError::Timeout`].
///
/// ```
/// let sums = distributed::threads(3, std::time::Duration::from_secs(10), |world| {
///     world.sum(&[world.rank() as f64 + 1.0]).unwrap()[0]
/// });
/// assert!(sums.into_iter().all(|s| s.unwrap() == 6.0));
/// ```
pub fn threads<T: Send>(size: usize, timeout: Duration, f: impl Fn(World) -> T + Sync) -> Vec<std::thread::Result<T>> {
    let board = Arc::new(Board {
        size,
        timeout,
        state: Mutex::new(State {
            slots: vec![None; size],
            arrived: 0,
            generation: 0,
            result: Arc::new(Vec::new()),
            stopped: vec![false; size],
            failed: None,
        }),
        changed: Condvar::new(),
    });
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..size)
            .map(|rank| {
                let (board, f) = (board.clone(), &f);
                scope.spawn(move || f(World::new(Box::new(ThreadTransport { rank, board }))))
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    })
}

struct Board {
    size: usize,
    timeout: Duration,
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    /// What each rank posted for the exchange in progress.
    slots: Vec<Option<Arc<Vec<u8>>>>,
    arrived: usize,
    /// Counts completed exchanges; a rank waits for it to move past the one it joined.
    generation: u64,
    /// The last completed exchange: every rank's post, in rank order.
    result: Arc<Vec<Arc<Vec<u8>>>>,
    /// Ranks whose `World` is gone (returned or panicked).
    stopped: Vec<bool>,
    /// The first failure (a stopped peer, a timeout): every later call on every rank returns it,
    /// so no rank goes on with the others' stale posts.
    failed: Option<DistError>,
}

struct ThreadTransport {
    rank: usize,
    board: Arc<Board>,
}

impl ThreadTransport {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A rank that panicked while holding the lock leaves plain data behind: still usable.
        self.board.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every rank's `mine`, in rank order: the one exchange all collectives here are made of.
    fn exchange(&self, op: &'static str, mine: Vec<u8>) -> Result<Arc<Vec<Arc<Vec<u8>>>>> {
        let board = &self.board;
        let mut state = self.lock();
        if let Some(e) = &state.failed {
            return Err(e.clone());
        }
        let joined = state.generation;
        state.slots[self.rank] = Some(Arc::new(mine));
        state.arrived += 1;
        if state.arrived == board.size {
            state.result = Arc::new(state.slots.iter_mut().map(|s| s.take().unwrap_or_default()).collect());
            state.arrived = 0;
            state.generation += 1;
            board.changed.notify_all();
            return Ok(state.result.clone());
        }
        // A timeout too long to represent is no timeout.
        let deadline = Instant::now().checked_add(board.timeout);
        while state.generation == joined {
            let failure = if let Some(e) = &state.failed {
                Some(e.clone())
            } else if let Some(rank) = (0..board.size).find(|&r| state.stopped[r] && state.slots[r].is_none()) {
                Some(DistError::PeerStopped { op, rank })
            } else if deadline.is_some_and(|d| Instant::now() >= d) {
                Some(DistError::Timeout { op, rank: self.rank, seconds: board.timeout.as_secs_f64() })
            } else {
                None
            };
            if let Some(e) = failure {
                state.failed.get_or_insert(e.clone());
                board.changed.notify_all();
                return Err(e);
            }
            state = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    board.changed.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0
                }
                None => board.changed.wait(state).unwrap_or_else(|e| e.into_inner()),
            };
        }
        Ok(state.result.clone())
    }
}

impl Drop for ThreadTransport {
    fn drop(&mut self) {
        let mut state = self.lock();
        state.stopped[self.rank] = true;
        self.board.changed.notify_all();
    }
}

impl Transport for ThreadTransport {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.board.size
    }

    fn broadcast(&self, op: &'static str, buf: &mut [u8], root: usize) -> Result<()> {
        let mine = if self.rank == root { buf.to_vec() } else { Vec::new() };
        let all = self.exchange(op, mine)?;
        copy_exact(op, root, &all[root], buf)
    }

    fn all_gather(&self, op: &'static str, mine: &[u8]) -> Result<Vec<Vec<u8>>> {
        Ok(self.exchange(op, mine.to_vec())?.iter().map(|b| b.to_vec()).collect())
    }

    fn all_to_all(
        &self,
        op: &'static str,
        send: &[u8],
        send_counts: &[usize],
        recv: &mut [u8],
        recv_counts: &[usize],
    ) -> Result<()> {
        // Every rank posts its whole send buffer with its counts in front; each picks its piece.
        let mut post = Vec::with_capacity(8 * send_counts.len() + send.len());
        for &c in send_counts {
            post.extend_from_slice(&(c as u64).to_le_bytes());
        }
        post.extend_from_slice(send);
        let all = self.exchange(op, post)?;
        let mut at = 0;
        for (src, theirs) in all.iter().enumerate() {
            let counts: Vec<usize> = (0..self.board.size)
                .map(|r| theirs.get(8 * r..8 * r + 8).map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))))
                .map(|c| c as usize)
                .collect();
            let start = 8 * self.board.size + counts[..self.rank].iter().sum::<usize>();
            let piece = theirs.get(start..start + counts[self.rank]).unwrap_or(&[]);
            copy_exact(op, src, piece, &mut recv[at..at + recv_counts[src]])?;
            at += recv_counts[src];
        }
        Ok(())
    }

    fn all_gather_into(&self, op: &'static str, mine: &[u8], recv: &mut [u8], counts: &[usize]) -> Result<()> {
        let all = self.exchange(op, mine.to_vec())?;
        let mut at = 0;
        for (src, theirs) in all.iter().enumerate() {
            copy_exact(op, src, theirs, &mut recv[at..at + counts[src]])?;
            at += counts[src];
        }
        Ok(())
    }

    fn barrier(&self, op: &'static str) -> Result<()> {
        self.exchange(op, Vec::new()).map(|_| ())
    }
}
