//! Sequential consistency: a memoised depth-first search over process orders.
//!
//! The same search as `search_sequential` in `labrys/checkers/_wgl.py`, step for step:
//! an operation may go next when every operation its process completed `ok` before it
//! has been placed; candidates are tried in invocation order; (placed set, state) pairs
//! are remembered.
//!
//! The memo key exploits the shape of the placed set. Known operations of a process
//! are placed in that process's order, so per process they are a count; operations that
//! may never take effect are listed by number. Processes are numbered by first
//! appearance, and a Jepsen history retires a process at each crash, so a long history
//! has many, most of them either finished or not begun. So the key holds `f`, the
//! first process with known operations left, and the counts from `f` to the last
//! process begun: before `f` every count is full, after the last every count is zero.
//! The key is `[state, f, count words, counts…, optional ids…]`, counts and ids
//! packed two to a word.

use crate::budget::{Meter, CHECK_EVERY};
use crate::linear::{push_packed, Longest};
use crate::memo::Memo;
use crate::model::Machine;
use crate::{Outcome, Part};

struct Chains {
    chains: Vec<Vec<u32>>,
    chain_of: Vec<u32>,
    position: Vec<u32>,
    known: Vec<bool>,
}

impl Chains {
    fn new(part: &Part) -> Self {
        let n = part.calls.len();
        let mut index_of: hashbrown::HashMap<i64, u32> = hashbrown::HashMap::new();
        let mut chains: Vec<Vec<u32>> = Vec::new();
        let mut chain_of = vec![0u32; n];
        let mut position = vec![0u32; n];
        for i in 0..n {
            let p = *index_of.entry(part.processes[i]).or_insert_with(|| {
                chains.push(Vec::new());
                (chains.len() - 1) as u32
            });
            chain_of[i] = p;
            position[i] = chains[p as usize].len() as u32;
            chains[p as usize].push(i as u32);
        }
        let known = part.returns.iter().map(|&r| r >= 0).collect();
        Chains { chains, chain_of, position, known }
    }

    /// The ops that may go next, in invocation order.
    fn candidates(&self, low: &[u32], placed: &[bool], out: &mut Vec<u32>) {
        out.clear();
        for (p, chain) in self.chains.iter().enumerate() {
            for &i in &chain[low[p] as usize..] {
                if !placed[i as usize] {
                    out.push(i);
                    if self.known[i as usize] {
                        break;
                    }
                }
            }
        }
        out.sort_unstable();
    }
}

pub fn search(part: &Part, machine: &mut Machine, meter: &mut Meter) -> Outcome {
    let n = part.calls.len();
    let mut remaining = part.returns.iter().filter(|&&r| r >= 0).count();
    if remaining == 0 {
        return Outcome::valid(Vec::new(), &Memo::new());
    }
    let c = Chains::new(part);
    let mut optional_id = vec![u32::MAX; n];
    let mut no = 0u32;
    for (id, &known) in optional_id.iter_mut().zip(&c.known) {
        if !known {
            *id = no;
            no += 1;
        }
    }
    let mut low = vec![0u32; c.chains.len()];
    let mut known_count = vec![0u32; c.chains.len()];
    let mut known_len = vec![0u32; c.chains.len()];
    for (p, chain) in c.chains.iter().enumerate() {
        known_len[p] = chain.iter().filter(|&&i| c.known[i as usize]).count() as u32;
    }
    // First process with known ops left; one past the last process with any placed.
    let mut first = known_len.iter().position(|&l| l > 0).unwrap_or(known_len.len());
    let mut end = 0usize;
    let mut placed = vec![false; n];
    let mut optional: Vec<u32> = Vec::new();
    let mut memo = Memo::new();
    let mut state = machine.init;
    // Per frame: where to resume among the parent's candidates, the state, `first` and
    // `end` before.
    let mut frames: Vec<(usize, u64, usize, usize)> = Vec::new();
    let mut stack_ops: Vec<u32> = Vec::new();
    let mut longest = Longest::new();
    let mut countdown = CHECK_EVERY;
    let mut key: Vec<u64> = Vec::new();
    let mut options: Vec<u32> = Vec::new();
    c.candidates(&low, &placed, &mut options);
    let mut k = 0usize;
    loop {
        let mut descended = false;
        while k < options.len() {
            let i = options[k] as usize;
            k += 1;
            let new = match machine.step(state, i) {
                Ok(Some(s)) => s,
                Ok(None) => continue,
                Err(e) => return Outcome::error(e),
            };
            let p = c.chain_of[i] as usize;
            let (mut new_first, new_end) = (first, end.max(p + 1));
            if c.known[i] {
                known_count[p] += 1;
                while new_first < known_len.len() && known_count[new_first] == known_len[new_first] {
                    new_first += 1;
                }
            } else {
                let at = optional.partition_point(|&x| x < optional_id[i]);
                optional.insert(at, optional_id[i]);
            }
            key.clear();
            key.push(new);
            key.push(new_first as u64);
            let counts = if new_end > new_first { &known_count[new_first..new_end] } else { &[][..] };
            key.push(counts.len() as u64);
            push_packed(&mut key, counts);
            push_packed(&mut key, &optional);
            if !memo.insert(&key) {
                if c.known[i] {
                    known_count[p] -= 1;
                } else {
                    let at = optional.partition_point(|&x| x < optional_id[i]);
                    optional.remove(at);
                }
                continue;
            }
            frames.push((k, state, first, end));
            first = new_first;
            end = new_end;
            stack_ops.push(i as u32);
            state = new;
            placed[i] = true;
            let chain = &c.chains[p];
            while (low[p] as usize) < chain.len() && placed[chain[low[p] as usize] as usize] {
                low[p] += 1;
            }
            if c.known[i] {
                remaining -= 1;
                if remaining == 0 {
                    return Outcome::valid(stack_ops, &memo);
                }
            }
            c.candidates(&low, &placed, &mut options);
            k = 0;
            countdown -= 1;
            if countdown == 0 {
                countdown = CHECK_EVERY;
                let bytes = memo.bytes() + machine.bytes() + frames.len() * 16 + n * 9;
                if let Some(why) = meter.check(bytes) {
                    if stack_ops.len() > longest.ops.len() {
                        longest.record(&stack_ops);
                    }
                    return Outcome::unknown(why, longest.ops, &memo);
                }
            }
            descended = true;
            break;
        }
        if descended {
            continue;
        }
        let Some((resume, before, first_before, end_before)) = frames.pop() else {
            return Outcome::invalid(longest.ops, &memo);
        };
        if stack_ops.len() > longest.ops.len() {
            longest.record(&stack_ops);
        }
        let i = stack_ops.pop().expect("one op per frame") as usize;
        longest.popped(stack_ops.len());
        state = before;
        first = first_before;
        end = end_before;
        placed[i] = false;
        let p = c.chain_of[i] as usize;
        if c.position[i] < low[p] {
            low[p] = c.position[i];
        }
        if c.known[i] {
            known_count[p] -= 1;
            remaining += 1;
        } else {
            let at = optional.partition_point(|&x| x < optional_id[i]);
            optional.remove(at);
        }
        // The parent's candidates depend only on what is placed, which is now as it was.
        c.candidates(&low, &placed, &mut options);
        k = resume;
    }
}
