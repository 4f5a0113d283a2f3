//! What the searches of one call may spend, shared by the threads that run them.
//!
//! The deadline is one instant for every partition. Memory is one pool: each search
//! reports how much its memo and interners grew since it last looked, and gives it all
//! back when it ends, so the limit bounds what all running searches hold at once.
//! Checks happen every few thousand steps: a search overruns by a few milliseconds at
//! most, and never pays for a clock read per step.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// Why a search stopped without an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exhausted {
    Time,
    Memory,
    /// Another partition was invalid and the caller asked to stop at the first one.
    Cancelled,
}

impl Exhausted {
    pub fn name(self) -> &'static str {
        match self {
            Exhausted::Time => "time",
            Exhausted::Memory => "memory",
            Exhausted::Cancelled => "cancelled",
        }
    }
}

pub struct Budget {
    pub deadline: Option<Instant>,
    pub memory_limit: Option<usize>,
    pub in_use: AtomicUsize,
    pub cancel: AtomicBool,
}

/// One search's account with the shared budget.
pub struct Meter<'a> {
    budget: &'a Budget,
    reported: usize,
    pub peak: usize,
}

pub const CHECK_EVERY: u32 = 4096;

impl<'a> Meter<'a> {
    pub fn new(budget: &'a Budget) -> Self {
        Meter { budget, reported: 0, peak: 0 }
    }

    /// Records that this search now holds `bytes`; says whether it must stop.
    pub fn check(&mut self, bytes: usize) -> Option<Exhausted> {
        self.peak = self.peak.max(bytes);
        let total = if bytes >= self.reported {
            self.budget.in_use.fetch_add(bytes - self.reported, Ordering::Relaxed) + bytes - self.reported
        } else {
            self.budget.in_use.fetch_sub(self.reported - bytes, Ordering::Relaxed) - (self.reported - bytes)
        };
        self.reported = bytes;
        if self.budget.cancel.load(Ordering::Relaxed) {
            return Some(Exhausted::Cancelled);
        }
        if let Some(limit) = self.budget.memory_limit {
            if total > limit {
                return Some(Exhausted::Memory);
            }
        }
        if let Some(deadline) = self.budget.deadline {
            if Instant::now() > deadline {
                return Some(Exhausted::Time);
            }
        }
        None
    }
}

impl Drop for Meter<'_> {
    fn drop(&mut self) {
        self.budget.in_use.fetch_sub(self.reported, Ordering::Relaxed);
    }
}
