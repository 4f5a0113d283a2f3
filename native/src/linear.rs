//! Linearizability: Wing and Gong's search with Lowe's memo, as Porcupine does it.
//!
//! This is the same algorithm, step for step, as `labrys/checkers/_wgl.py` (read its
//! module docstring for the idea), so that both find the same order and the same
//! longest prefix. Entries are call and return events in history order, linked in a
//! list; the calls before the first return are the operations that may go next;
//! placing one unlinks its call and return; meeting a return means backtrack.
//!
//! What differs is the memo key. Python keeps the placed set as a big integer; here a
//! key must stay small on histories of a million operations, where a plain bitset would
//! cost 125 kB per entry. So the placed set is written relative to a frontier:
//!
//! - operations whose result is known (they must be placed) are numbered in call
//!   order; `f` is the first of them not yet placed. Every known operation before `f`
//!   is placed, so the key holds only `f` and the bitset words from `f` to the last
//!   placed one. Those are operations invoked before `f` returned, so their number is
//!   bounded by the concurrency around `f`, not by the length of the history.
//! - operations that may never take effect (crashed, timed out) are listed by number,
//!   sorted. They are few once `_reduce.py` has dropped and bounded what it can.
//!
//! The key is `[state, f, word count, words…, optional ids…]`: equal keys iff equal
//! (placed set, state) pairs, so the memo is exact, with no hashing of sets that could
//! collide.
//!
//! Optionally (`symmetry`), crashed operations with identical effects are placed in
//! invocation order only. That loses no order: if a valid order uses k of them, the k
//! invoked first can stand in for them, because at the i-th place at least i of them
//! had been invoked, and none has a deadline. It turns the 2^k subsets of k
//! interchangeable crashed writes into k + 1 counts. It changes which prefixes the
//! search visits, so the longest prefix may differ from the Python engine's: it is off
//! for checks whose explanations must match, on for `--minimize`'s many yes/no checks.

use crate::budget::{Meter, CHECK_EVERY};
use crate::memo::Memo;
use crate::model::Machine;
use crate::{Outcome, Part};

const NIL: u32 = u32::MAX;

struct Frame {
    entry: u32,
    state: u64,
    f: u32,
    max_placed: i64,
}

/// The longest prefix seen, kept sharing its start with the stack so that recording a
/// new longest copies only what changed since the last one (amortised O(1) per step).
pub(crate) struct Longest {
    pub ops: Vec<u32>,
    shared: usize,
}

impl Longest {
    pub fn new() -> Self {
        Longest { ops: Vec::new(), shared: 0 }
    }

    /// The stack shrank to `depth`: only its first `depth` ops still agree.
    #[inline]
    pub fn popped(&mut self, depth: usize) {
        if depth < self.shared {
            self.shared = depth;
        }
    }

    pub fn record(&mut self, stack: &[u32]) {
        self.ops.truncate(self.shared);
        self.ops.extend_from_slice(&stack[self.shared..]);
        self.shared = stack.len();
    }
}

pub(crate) fn push_packed(key: &mut Vec<u64>, ids: &[u32]) {
    for pair in ids.chunks(2) {
        let hi = if pair.len() == 2 { pair[1] as u64 + 1 } else { 0 };
        key.push((pair[0] as u64) | (hi << 32));
    }
}

/// For each optional op, the optional op with identical effects invoked just before
/// it, which must be placed first (NIL if none, or if symmetry is off).
fn class_predecessors(part: &Part, machine: &Machine, symmetry: bool) -> Vec<u32> {
    let n = part.calls.len();
    let mut pred = vec![NIL; n];
    if symmetry {
        let mut last: hashbrown::HashMap<&[crate::model::Micro], u32> = hashbrown::HashMap::new();
        for (i, slot) in pred.iter_mut().enumerate() {
            if part.returns[i] < 0 {
                if let Some(p) = last.insert(machine.micros_of(i), i as u32) {
                    *slot = p;
                }
            }
        }
    }
    pred
}

pub fn search(part: &Part, machine: &mut Machine, meter: &mut Meter, symmetry: bool) -> Outcome {
    let n = part.calls.len();
    let mut remaining = part.returns.iter().filter(|&&r| r >= 0).count();
    if remaining == 0 {
        return Outcome::valid(Vec::new(), &Memo::new());
    }
    // Known ops numbered in call order (ids of the bitset); optional ones apart.
    let mut known_id = vec![NIL; n];
    let mut optional_id = vec![NIL; n];
    let (mut nk, mut no) = (0u32, 0u32);
    for i in 0..n {
        if part.returns[i] >= 0 {
            known_id[i] = nk;
            nk += 1;
        } else {
            optional_id[i] = no;
            no += 1;
        }
    }

    // Entries 1..=size in history order; 0 is the head, size + 1 the tail. Ties in
    // position are broken as Python's sort of (position, op, is_call) does.
    let mut events: Vec<(i64, u32, bool)> = Vec::with_capacity(n + remaining);
    for i in 0..n {
        events.push((part.calls[i], i as u32, true));
        if part.returns[i] >= 0 {
            events.push((part.returns[i], i as u32, false));
        }
    }
    events.sort_unstable();
    let size = events.len() as u32;
    let head = 0u32;
    let tail = size + 1;
    let mut nxt: Vec<u32> = (1..=size + 1).chain(std::iter::once(tail)).collect();
    let mut prv: Vec<u32> = std::iter::once(0).chain(0..=size).collect();
    let mut op_of = vec![0u32; size as usize + 2];
    // For a call entry: 1 + its return entry, or 0 if it has none. For a return: -1.
    let mut kind = vec![0i64; size as usize + 2];
    let mut return_entry = vec![0u32; n];
    for entry in (1..=size).rev() {
        let (_, i, is_call) = events[entry as usize - 1];
        op_of[entry as usize] = i;
        if is_call {
            kind[entry as usize] = if return_entry[i as usize] == 0 { 0 } else { 1 + return_entry[i as usize] as i64 };
        } else {
            kind[entry as usize] = -1;
            return_entry[i as usize] = entry;
        }
    }
    kind[tail as usize] = -1; // unreachable while ops remain: a remaining op's return comes first
    drop(events);
    let pred = class_predecessors(part, machine, symmetry);
    let mut optional_placed = vec![false; n];

    let mut memo = Memo::new();
    let mut placed = vec![0u64; (nk as usize).div_ceil(64) + 1];
    let mut f: u32 = 0;
    let mut max_placed: i64 = -1;
    let mut optional: Vec<u32> = Vec::new();
    let mut state = machine.init;
    let mut frames: Vec<Frame> = Vec::new();
    let mut stack_ops: Vec<u32> = Vec::new();
    let mut longest = Longest::new();
    let mut countdown = CHECK_EVERY;
    let mut key: Vec<u64> = Vec::new();
    let extra = |placed_len: usize, optional_len: usize| placed_len * 8 + optional_len * 4;
    let mut entry = nxt[head as usize];
    loop {
        let k = kind[entry as usize];
        if k >= 0 {
            let i = op_of[entry as usize] as usize;
            if pred[i] != NIL && !optional_placed[pred[i] as usize] {
                entry = nxt[entry as usize];
                continue;
            }
            let new = match machine.step(state, i) {
                Ok(s) => s,
                Err(e) => return Outcome::error(e),
            };
            if let Some(new) = new {
                // Place i tentatively and build the key of the pair it leads to.
                let (new_f, new_max) = if k > 0 {
                    let id = known_id[i];
                    placed[(id / 64) as usize] |= 1u64 << (id % 64);
                    let mut nf = f;
                    if id == f {
                        while nf < nk && placed[(nf / 64) as usize] & (1u64 << (nf % 64)) != 0 {
                            nf += 1;
                        }
                    }
                    (nf, max_placed.max(id as i64))
                } else {
                    let id = optional_id[i];
                    let at = optional.partition_point(|&x| x < id);
                    optional.insert(at, id);
                    optional_placed[i] = true;
                    (f, max_placed)
                };
                key.clear();
                key.push(new);
                key.push(new_f as u64);
                if new_max >= new_f as i64 {
                    let (lo, hi) = ((new_f / 64) as usize, (new_max as usize) / 64);
                    key.push((hi - lo + 1) as u64);
                    key.extend_from_slice(&placed[lo..=hi]);
                } else {
                    key.push(0);
                }
                push_packed(&mut key, &optional);
                if memo.insert(&key) {
                    frames.push(Frame { entry, state, f, max_placed });
                    stack_ops.push(i as u32);
                    state = new;
                    f = new_f;
                    max_placed = new_max;
                    let (before, after) = (prv[entry as usize], nxt[entry as usize]);
                    nxt[before as usize] = after;
                    prv[after as usize] = before;
                    if k > 0 {
                        let ret = (k - 1) as usize;
                        let (before, after) = (prv[ret], nxt[ret]);
                        nxt[before as usize] = after;
                        prv[after as usize] = before;
                        remaining -= 1;
                        if remaining == 0 {
                            return Outcome::valid(stack_ops, &memo);
                        }
                    }
                    entry = nxt[head as usize];
                    countdown -= 1;
                    if countdown == 0 {
                        countdown = CHECK_EVERY;
                        let bytes = memo.bytes() + machine.bytes() + extra(placed.len(), optional.len());
                        if let Some(why) = meter.check(bytes) {
                            if stack_ops.len() > longest.ops.len() {
                                longest.record(&stack_ops);
                            }
                            return Outcome::unknown(why, longest.ops, &memo);
                        }
                    }
                    continue;
                }
                // Seen before: undo the tentative placement.
                if k > 0 {
                    let id = known_id[i];
                    placed[(id / 64) as usize] &= !(1u64 << (id % 64));
                } else {
                    let at = optional.partition_point(|&x| x < optional_id[i]);
                    optional.remove(at);
                    optional_placed[i] = false;
                }
            }
            entry = nxt[entry as usize];
        } else {
            let Some(frame) = frames.pop() else {
                return Outcome::invalid(longest.ops, &memo);
            };
            if stack_ops.len() > longest.ops.len() {
                longest.record(&stack_ops);
            }
            let i = stack_ops.pop().expect("one op per frame") as usize;
            longest.popped(stack_ops.len());
            state = frame.state;
            f = frame.f;
            max_placed = frame.max_placed;
            let k = kind[frame.entry as usize];
            if k > 0 {
                let id = known_id[i];
                placed[(id / 64) as usize] &= !(1u64 << (id % 64));
                let ret = (k - 1) as u32;
                nxt[prv[ret as usize] as usize] = ret;
                prv[nxt[ret as usize] as usize] = ret;
                remaining += 1;
            } else {
                let at = optional.partition_point(|&x| x < optional_id[i]);
                optional.remove(at);
                optional_placed[i] = false;
            }
            let e = frame.entry;
            nxt[prv[e as usize] as usize] = e;
            prv[nxt[e as usize] as usize] = e;
            entry = nxt[e as usize];
        }
    }
}
