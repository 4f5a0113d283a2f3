//! The read-mapping: linearizability of unique-value registers in O(n log n).
//!
//! The same algorithm, step for step and in the same order of checks, as
//! `labrys/checkers/_read_mapping.py` (read its docstring for the argument), so that
//! both name the same conflict. Positions are history indices; an operation whose
//! outcome is unknown has no return (`i64::MAX`); the initial value is written by a
//! virtual operation `INITIAL` before everything.

use hashbrown::HashMap;

pub const INITIAL: i64 = -1;
const NEG: i64 = i64::MIN;
const POS: i64 = i64::MAX;

/// What a call does to the register: values are equality classes.
#[derive(Clone, Copy)]
pub enum Role {
    Read { expected: u32 },
    Write { written: u32 },
    Cas { expected: u32, written: u32 },
}

impl Role {
    fn written(self) -> Option<u32> {
        match self {
            Role::Write { written } | Role::Cas { written, .. } => Some(written),
            Role::Read { .. } => None,
        }
    }
    fn expected(self) -> Option<u32> {
        match self {
            Role::Read { expected } | Role::Cas { expected, .. } => Some(expected),
            Role::Write { .. } => None,
        }
    }
}

/// See `Conflict` in `_read_mapping.py`; positions index the part's calls, `INITIAL`
/// stands for the initial value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub kind: &'static str,
    pub op: i64,
    pub others: Vec<i64>,
    pub chains: Vec<i64>,
}

fn conflict(kind: &'static str, op: usize, others: Vec<i64>, chains: Vec<i64>) -> Conflict {
    Conflict { kind, op: op as i64, others, chains }
}

/// None when the preconditions do not hold; Some(None) when linearizable; Some(conflict)
/// when not.
pub fn decide(roles: &[Role], invoked: &[i64], returned: &[i64], known: &[bool], initial: u32) -> Option<Option<Conflict>> {
    let n = roles.len();
    let mut writer: HashMap<u32, usize> = HashMap::with_capacity(n);
    for (i, r) in roles.iter().enumerate() {
        if let Some(w) = r.written() {
            if w == initial || writer.insert(w, i).is_some() {
                return None;
            }
        }
    }
    if !crashed_are_required(roles, known, &writer, initial) {
        return None;
    }
    let mut consumer: HashMap<u32, usize> = HashMap::new();
    let mut readers: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, r) in roles.iter().enumerate() {
        let Some(e) = r.expected() else { continue };
        if e != initial && !writer.contains_key(&e) {
            return Some(Some(conflict("unwritten", i, vec![], vec![])));
        }
        match r {
            Role::Read { .. } => readers.entry(e).or_default().push(i),
            _ => {
                if let Some(&first) = consumer.get(&e) {
                    let source = writer.get(&e).map_or(INITIAL, |&w| w as i64);
                    return Some(Some(conflict("reused", i, vec![first as i64, source], vec![])));
                }
                consumer.insert(e, i);
            }
        }
    }
    Some(zones(roles, invoked, returned, initial, &readers, &consumer, &writer))
}

fn crashed_are_required(roles: &[Role], known: &[bool], writer: &HashMap<u32, usize>, initial: u32) -> bool {
    let mut required = known.to_vec();
    let mut pending: Vec<usize> = (0..roles.len()).filter(|&i| known[i]).collect();
    while let Some(i) = pending.pop() {
        let Some(e) = roles[i].expected() else { continue };
        if e == initial {
            continue;
        }
        if let Some(&w) = writer.get(&e) {
            if !required[w] {
                required[w] = true;
                pending.push(w);
            }
        }
    }
    required.iter().all(|&r| r)
}

struct Chain {
    root: i64,
    f: i64,
    f_op: i64,
    s: i64,
    s_op: i64,
}

fn zones(
    roles: &[Role],
    invoked: &[i64],
    returned: &[i64],
    initial: u32,
    readers: &HashMap<u32, Vec<usize>>,
    consumer: &HashMap<u32, usize>,
    writer: &HashMap<u32, usize>,
) -> Option<Conflict> {
    let n = roles.len();
    let roots = std::iter::once(INITIAL)
        .chain((0..n).filter(|&i| matches!(roles[i], Role::Write { .. })).map(|i| i as i64));
    let mut chained = vec![false; n];
    let mut chains: Vec<Chain> = Vec::new();
    for root in roots {
        let mut chain = Chain { root, f: POS, f_op: INITIAL, s: NEG, s_op: INITIAL };
        let mut layers: Vec<Vec<usize>> = Vec::new();
        let mut value = if root == INITIAL {
            chain.f = NEG;
            initial
        } else {
            layers.push(vec![root as usize]);
            roles[root as usize].written().unwrap_or(initial)
        };
        loop {
            layers.push(readers.get(&value).cloned().unwrap_or_default());
            let Some(&next) = consumer.get(&value) else { break };
            layers.push(vec![next]);
            value = roles[next].written().unwrap_or(initial);
        }
        let (mut latest, mut latest_op) = (NEG, INITIAL);
        for layer in &layers {
            for &o in layer {
                if returned[o] < latest {
                    return Some(conflict("order", o, vec![latest_op], vec![root]));
                }
            }
            for &o in layer {
                chained[o] = true;
                if invoked[o] > latest {
                    latest = invoked[o];
                    latest_op = o as i64;
                }
                if returned[o] < chain.f {
                    chain.f = returned[o];
                    chain.f_op = o as i64;
                }
                if invoked[o] > chain.s {
                    chain.s = invoked[o];
                    chain.s_op = o as i64;
                }
            }
        }
        chains.push(chain);
    }
    if let Some(start) = (0..n).find(|&i| matches!(roles[i], Role::Cas { .. }) && !chained[i]) {
        return Some(cycle(start, roles, writer));
    }
    let mut forward: Vec<&Chain> = chains.iter().filter(|c| c.f < c.s).collect();
    forward.sort_by_key(|c| c.f);
    for w in forward.windows(2) {
        let (a, b) = (w[0], w[1]);
        if b.f < a.s {
            return Some(Conflict { kind: "overlap", op: a.s_op, others: vec![a.f_op, b.s_op, b.f_op], chains: vec![a.root, b.root] });
        }
    }
    for b in &chains {
        if b.s >= b.f {
            continue;
        }
        let k = forward.partition_point(|c| c.f < b.s);
        if k > 0 && b.f < forward[k - 1].s {
            let a = forward[k - 1];
            return Some(Conflict { kind: "nested", op: a.s_op, others: vec![a.f_op, b.s_op, b.f_op], chains: vec![a.root, b.root] });
        }
    }
    None
}

fn cycle(start: usize, roles: &[Role], writer: &HashMap<u32, usize>) -> Conflict {
    let mut seen: Vec<usize> = Vec::new();
    let mut at = start;
    while !seen.contains(&at) {
        seen.push(at);
        let e = roles[at].expected().unwrap_or(u32::MAX);
        at = writer.get(&e).copied().unwrap_or(at);
    }
    let from = seen.iter().position(|&x| x == at).unwrap_or(0);
    let mut members: Vec<usize> = seen[from..].to_vec();
    members.sort_unstable();
    Conflict { kind: "cycle", op: members[0] as i64, others: members[1..].iter().map(|&m| m as i64).collect(), chains: vec![] }
}
