//! list-append histories that are clean: every read explained, no cycle, decided fast.
//!
//! Elle's checker (`labrys/checkers/_txn.py` and the modules it names) infers a
//! dependency graph and looks for anomalies and cycles; on a valid history of a hundred
//! thousand transactions that is seconds of Python spent proving there is nothing to
//! report. This is the same inference, on a history's columns, asking only whether
//! there *is* anything: a transaction the rules refuse, a read no correct execution
//! gives (garbage, an aborted or intermediate element, duplicates, reads that are not
//! prefixes of one another, an internal or future read, a lost update), or a cycle of
//! dependencies (ww, wr, rw, and the process or realtime order the claims need). When
//! there is none, the verdict is "valid" with nothing found, which the caller writes;
//! when there may be, or anything is off the path of `_txn_history.parse_txns`, the
//! answer is "defer" and the Python checker does the whole work, finding, explaining and
//! refusing exactly as before. So this can only ever save time.

use hashbrown::{HashMap, HashSet};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyList, PyString, PyTuple};

use crate::reader::{Columns, FAIL, INFO, OK};
use crate::value::{Node, Values, NONE};

/// Which order edges the claimed models need (`_txn_graph.PROCESS`, `REALTIME`).
pub const PROCESS: u8 = 8;
pub const REALTIME: u8 = 16;

struct Txn {
    kind: u8,
    process: u32,
    invoke: u32,
    complete: u32,
    mops: std::ops::Range<usize>,
}

#[derive(Clone, Copy)]
struct Mop {
    append: bool,
    key: u32,
    /// append: the element's class.
    element: u32,
    /// read: its elements in `elements`, or None when unknown (not committed).
    read: Option<(u32, u32)>,
}

type Defer = ();

/// Where `parse` reads operations from: a history's columns, or a Python `History`'s ops.
/// Values are opaque to it; the source says what each is.
pub trait Source {
    type V;
    /// The client invocations, in order, each with its completion's index (or None).
    fn invocations(&self) -> Vec<(usize, Option<usize>)>;
    /// The op's type: `reader::INVOKE`..`INFO`.
    fn kind(&self, i: usize) -> u8;
    /// An id per process (equal processes, equal ids).
    fn process(&mut self, i: usize) -> u32;
    fn f_is(&self, i: usize, name: &str) -> bool;
    fn value(&self, i: usize) -> Self::V;
    /// The items of a list (or tuple), None for anything else.
    fn items(&self, v: &Self::V) -> Option<Vec<Self::V>>;
    fn is_nil(&self, v: &Self::V) -> bool;
    fn is_text(&self, v: &Self::V, text: &str) -> bool;
    /// The value's equality class, None when not modelled.
    fn class(&mut self, v: &Self::V) -> Option<u32>;
}

impl Source for Columns {
    type V = u32;
    fn invocations(&self) -> Vec<(usize, Option<usize>)> {
        (0..self.len())
            .filter(|&i| self.is_client(i) && self.is_invocation(i))
            .map(|i| (i, (self.pair[i] != NONE).then_some(self.pair[i] as usize)))
            .collect()
    }
    fn kind(&self, i: usize) -> u8 {
        self.types[i]
    }
    fn process(&mut self, i: usize) -> u32 {
        self.process[i]
    }
    fn f_is(&self, i: usize, name: &str) -> bool {
        self.vals.string(self.f[i]) == name
    }
    fn value(&self, i: usize) -> u32 {
        self.value[i]
    }
    fn items(&self, v: &u32) -> Option<Vec<u32>> {
        match self.vals.node(*v) {
            Node::List { start, len } => Some(self.vals.kids(start, len).to_vec()),
            _ => None,
        }
    }
    fn is_nil(&self, v: &u32) -> bool {
        self.vals.node(*v) == Node::Nil
    }
    fn is_text(&self, v: &u32, text: &str) -> bool {
        self.vals.text(*v) == Some(text)
    }
    fn class(&mut self, v: &u32) -> Option<u32> {
        self.vals.class(*v)
    }
}

/// A Python `History`'s ops, read where `parse` needs them (most values never are).
pub struct PyOps<'py> {
    ops: Vec<Bound<'py, PyAny>>,
    /// `History._pair`: each op's partner, -1 for none.
    pairs: Vec<i64>,
    vals: Values,
    processes: HashMap<i64, u32>,
}

impl<'py> PyOps<'py> {
    pub fn new(ops: Vec<Bound<'py, PyAny>>, pairs: Vec<i64>) -> Self {
        PyOps { ops, pairs, vals: Values::new(), processes: HashMap::new() }
    }

    fn field(&self, i: usize, name: &str) -> Option<Bound<'py, PyAny>> {
        self.ops[i].getattr(name).ok()
    }
}

impl<'py> Source for PyOps<'py> {
    type V = Option<Bound<'py, PyAny>>;
    fn invocations(&self) -> Vec<(usize, Option<usize>)> {
        let client = |i: usize| {
            self.field(i, "process").is_some_and(|p| p.is_instance_of::<PyInt>() && !p.is_instance_of::<PyBool>())
        };
        (0..self.ops.len())
            .filter(|&i| self.pairs[i] == -1 || self.pairs[i] > i as i64)
            .filter(|&i| client(i))
            .map(|i| (i, (self.pairs[i] >= 0).then_some(self.pairs[i] as usize)))
            .collect()
    }
    fn kind(&self, i: usize) -> u8 {
        let kind = self.field(i, "type");
        match kind.as_ref().and_then(|k| k.downcast::<PyString>().ok()).and_then(|k| k.to_str().ok()) {
            Some("invoke") => crate::reader::INVOKE,
            Some("ok") => OK,
            Some("fail") => FAIL,
            _ => INFO,
        }
    }
    fn process(&mut self, i: usize) -> u32 {
        let p = self.field(i, "process").and_then(|p| p.extract::<i64>().ok()).unwrap_or(i64::MIN);
        let next = self.processes.len() as u32;
        *self.processes.entry(p).or_insert(next)
    }
    fn f_is(&self, i: usize, name: &str) -> bool {
        self.field(i, "f").is_some_and(|f| f.downcast::<PyString>().is_ok_and(|f| f.to_str().is_ok_and(|f| f == name)))
    }
    fn value(&self, i: usize) -> Self::V {
        self.field(i, "value")
    }
    fn items(&self, v: &Self::V) -> Option<Vec<Self::V>> {
        let v = v.as_ref()?;
        if let Ok(l) = v.downcast::<PyList>() {
            return Some(l.iter().map(Some).collect());
        }
        v.downcast::<PyTuple>().ok().map(|t| t.iter().map(Some).collect())
    }
    fn is_nil(&self, v: &Self::V) -> bool {
        v.as_ref().is_none_or(|v| v.is_none())
    }
    fn is_text(&self, v: &Self::V, text: &str) -> bool {
        v.as_ref().is_some_and(|v| v.downcast::<PyString>().is_ok_and(|s| s.to_str().is_ok_and(|s| s == text)))
    }
    fn class(&mut self, v: &Self::V) -> Option<u32> {
        let v = self.vals.intern_python(v.as_ref()?)?;
        self.vals.class(v)
    }
}

/// Transactions, their micro-operations, and the elements their reads returned.
type Parsed = (Vec<Txn>, Vec<Mop>, Vec<u32>);

/// The transactions, as `parse_txns` makes them; `Err` wherever it would refuse one or
/// a value's equality is not modelled here.
fn parse<S: Source>(src: &mut S) -> Result<Parsed, Defer> {
    let mut txns = Vec::new();
    let mut mops: Vec<Mop> = Vec::new();
    let mut elements: Vec<u32> = Vec::new();
    let mut written: HashSet<(u32, u32)> = HashSet::new();
    for (i, completion) in src.invocations() {
        if !src.f_is(i, "txn") {
            return Err(());
        }
        let kind = completion.map_or(INFO, |c| src.kind(c));
        let committed = kind == OK;
        let source = match completion {
            Some(c) if committed => src.value(c),
            _ => src.value(i),
        };
        let first = mops.len();
        for m in src.items(&source).ok_or(())? {
            let parts = src.items(&m).ok_or(())?;
            if !(2..=3).contains(&parts.len()) {
                return Err(());
            }
            let append = if src.is_text(&parts[0], "append") {
                true
            } else if src.is_text(&parts[0], "r") {
                false
            } else {
                return Err(());
            };
            let key = src.class(&parts[1]).ok_or(())?;
            let v = parts.get(2);
            if append {
                let element = src.class(v.ok_or(())?).ok_or(())?;
                if !written.insert((key, element)) {
                    return Err(());
                }
                mops.push(Mop { append: true, key, element, read: None });
                continue;
            }
            let read = match v {
                Some(v) if !src.is_nil(v) => {
                    let at = elements.len() as u32;
                    for e in src.items(v).ok_or(())? {
                        let e = src.class(&e).ok_or(())?;
                        elements.push(e);
                    }
                    Some((at, elements.len() as u32 - at))
                }
                _ if committed => Some((elements.len() as u32, 0)),
                _ => None,
            };
            mops.push(Mop { append: false, key, element: 0, read });
        }
        txns.push(Txn {
            kind,
            process: src.process(i),
            invoke: i as u32,
            complete: completion.map_or(NONE, |c| c as u32),
            mops: first..mops.len(),
        });
    }
    Ok((txns, mops, elements))
}

fn seq(elements: &[u32], read: (u32, u32)) -> &[u32] {
    &elements[read.0 as usize..(read.0 + read.1) as usize]
}

/// True when a clean history needs nothing more; see the module docs.
fn anomalies(txns: &[Txn], mops: &[Mop], elements: &[u32]) -> bool {
    let mut writer: HashMap<(u32, u32), usize> = HashMap::new();
    let mut failed: HashSet<(u32, u32)> = HashSet::new();
    // (key, element) → the transaction that appended it and then appended to the key
    // again: reading that element last is seeing an intermediate version.
    let mut intermediate: HashMap<(u32, u32), usize> = HashMap::new();
    let mut last: Vec<(u32, u32)> = Vec::new();
    for (t, txn) in txns.iter().enumerate() {
        last.clear();
        for m in &mops[txn.mops.clone()] {
            if m.append {
                writer.insert((m.key, m.element), t);
                if txn.kind == FAIL {
                    failed.insert((m.key, m.element));
                }
                match last.iter_mut().find(|(k, _)| *k == m.key) {
                    Some(slot) => {
                        intermediate.insert((m.key, slot.1), t);
                        slot.1 = m.element;
                    }
                    None => last.push((m.key, m.element)),
                }
            }
        }
    }
    // Reads: garbage, aborted (G1a, dirty updates), intermediate (G1b), duplicates.
    for (reader, txn) in txns.iter().enumerate().filter(|(_, t)| t.kind != FAIL) {
        for m in &mops[txn.mops.clone()] {
            let Some(read) = m.read.filter(|_| !m.append) else { continue };
            let v = seq(elements, read);
            if v.iter().any(|&e| !writer.contains_key(&(m.key, e)) || failed.contains(&(m.key, e))) {
                return true;
            }
            let duplicated = if v.len() <= 32 {
                v.iter().enumerate().any(|(i, e)| v[..i].contains(e))
            } else {
                let mut seen: HashSet<u32> = HashSet::with_capacity(v.len());
                !v.iter().all(|&e| seen.insert(e))
            };
            if duplicated {
                return true;
            }
            if let Some(&tail) = v.last() {
                if intermediate.get(&(m.key, tail)).is_some_and(|&middle| middle != reader && txn.kind == OK) {
                    return true;
                }
            }
        }
    }
    // Internal and future reads, lost updates: only transactions that touch a key twice.
    let mut lost: HashSet<(u32, (u32, u32))> = HashSet::new();
    for txn in txns.iter().filter(|t| t.kind == OK) {
        let ms = &mops[txn.mops.clone()];
        if !ms.iter().enumerate().any(|(i, m)| ms[..i].iter().any(|o| o.key == m.key)) {
            continue;
        }
        let mut state: HashMap<u32, (bool, Vec<u32>)> = HashMap::new();
        for m in ms {
            let s = state.get(&m.key);
            if m.append {
                let next = match s {
                    None => (false, vec![m.element]),
                    Some((known, seq)) => {
                        let mut seq = seq.clone();
                        seq.push(m.element);
                        (*known, seq)
                    }
                };
                state.insert(m.key, next);
                continue;
            }
            let v = seq(elements, m.read.unwrap_or((0, 0)));
            if let Some((known, expected)) = s {
                let good = if *known {
                    v == &expected[..]
                } else {
                    v.len() >= expected.len() && v[v.len() - expected.len()..] == expected[..]
                };
                if !good {
                    return true;
                }
            }
            state.insert(m.key, (true, v.to_vec()));
        }
        for (i, m) in ms.iter().enumerate() {
            if !m.append {
                let v = seq(elements, m.read.unwrap_or((0, 0)));
                if ms[i + 1..].iter().any(|later| later.append && later.key == m.key && v.contains(&later.element)) {
                    return true;
                }
            }
        }
        let mut first_read: HashMap<u32, (u32, u32)> = HashMap::new();
        let mut wrote: HashSet<u32> = HashSet::new();
        for m in ms {
            if m.append {
                if wrote.insert(m.key) {
                    if let Some(&r) = first_read.get(&m.key) {
                        // The version read: its elements identify it (reads are lists).
                        let v = seq(elements, r);
                        let id = (v.len() as u32, v.last().copied().unwrap_or(u32::MAX));
                        if !lost.insert((m.key, id)) {
                            return true;
                        }
                    }
                }
            } else {
                first_read.entry(m.key).or_insert(m.read.unwrap_or((0, 0)));
            }
        }
    }
    false
}

/// `append_version_orders`: each key's order from its longest read, or None when reads
/// are not all prefixes of one another.
fn versions(txns: &[Txn], mops: &[Mop], elements: &[u32]) -> Option<HashMap<u32, Vec<u32>>> {
    let mut longest: HashMap<u32, (u32, u32)> = HashMap::new();
    let mut reads: HashMap<u32, Vec<(u32, u32)>> = HashMap::new();
    for txn in txns.iter().filter(|t| t.kind != FAIL) {
        for m in &mops[txn.mops.clone()] {
            if let Some(r) = m.read.filter(|r| !m.append && r.1 > 0) {
                reads.entry(m.key).or_default().push(r);
                let l = longest.entry(m.key).or_insert(r);
                if r.1 > l.1 {
                    *l = r;
                }
            }
        }
    }
    let mut orders = HashMap::with_capacity(longest.len());
    for (k, rs) in reads {
        let long = seq(elements, longest[&k]);
        if rs.iter().any(|&r| {
            let v = seq(elements, r);
            &long[..v.len()] != v
        }) {
            return None;
        }
        orders.insert(k, long.to_vec());
    }
    Some(orders)
}

/// `append_edges`, plus process or realtime edges; the successors of each transaction.
fn edges(txns: &[Txn], mops: &[Mop], elements: &[u32], orders: &HashMap<u32, Vec<u32>>, order: u8, op_count: usize) -> Vec<Vec<u32>> {
    let n = txns.len();
    let mut succ: Vec<Vec<u32>> = vec![Vec::new(); n];
    let live = |t: usize| txns[t].kind != FAIL;
    let mut writer: HashMap<(u32, u32), usize> = HashMap::new();
    for (t, txn) in txns.iter().enumerate() {
        for m in mops[txn.mops.clone()].iter().filter(|m| m.append) {
            writer.insert((m.key, m.element), t);
        }
    }
    const INIT: u32 = u32::MAX;
    let mut before: HashMap<(u32, u32), u32> = HashMap::new();
    for (&k, order) in orders {
        let mut prev = INIT;
        for &e in order {
            before.insert((k, e), prev);
            prev = e;
        }
    }
    // Who read the state ending in each element (INIT: empty), per key.
    let mut readers_of: HashMap<(u32, u32), Vec<u32>> = HashMap::new();
    for (t, txn) in txns.iter().enumerate().filter(|(_, t)| t.kind != FAIL) {
        for m in mops[txn.mops.clone()].iter().filter(|m| !m.append) {
            if let Some(r) = m.read {
                let last = seq(elements, r).last().copied().unwrap_or(INIT);
                readers_of.entry((m.key, last)).or_default().push(t as u32);
            }
        }
    }
    for (t, txn) in txns.iter().enumerate().filter(|(_, t)| t.kind != FAIL) {
        for m in &mops[txn.mops.clone()] {
            if m.append {
                let prev = match orders.get(&m.key) {
                    None => INIT,
                    Some(order) => before.get(&(m.key, m.element)).copied().unwrap_or(*order.last().unwrap_or(&INIT)),
                };
                if prev != INIT {
                    if let Some(&w) = writer.get(&(m.key, prev)) {
                        if w != t && live(w) {
                            succ[w].push(t as u32);
                        }
                    }
                }
                for &r in readers_of.get(&(m.key, prev)).map_or(&[][..], |v| &v[..]) {
                    if r as usize != t {
                        succ[r as usize].push(t as u32);
                    }
                }
            } else if let Some(&e) = m.read.map(|r| seq(elements, r)).and_then(|v| v.last()) {
                if let Some(&w) = writer.get(&(m.key, e)) {
                    if w != t && live(w) {
                        succ[w].push(t as u32);
                    }
                }
            }
        }
    }
    if order == PROCESS {
        let mut last: HashMap<u32, usize> = HashMap::new();
        for (t, txn) in txns.iter().enumerate().filter(|(_, t)| t.kind == OK) {
            if let Some(p) = last.insert(txn.process, t) {
                succ[p].push(t as u32);
            }
        }
    } else if order == REALTIME {
        let mut events = vec![u32::MAX; op_count];
        for (t, txn) in txns.iter().enumerate().filter(|(_, t)| t.kind != FAIL) {
            events[txn.invoke as usize] = 2 * t as u32;
            if txn.kind == OK && txn.complete != NONE {
                events[txn.complete as usize] = 2 * t as u32 + 1;
            }
        }
        // The frontier holds at most one transaction per process: a vector suffices.
        let mut frontier: Vec<u32> = Vec::new();
        let mut preceded_by: Vec<Vec<u32>> = vec![Vec::new(); n];
        for e in events.into_iter().filter(|&e| e != u32::MAX) {
            let t = e >> 1;
            if e & 1 == 1 {
                let covered = std::mem::take(&mut preceded_by[t as usize]);
                frontier.retain(|f| !covered.contains(f));
                frontier.push(t);
            } else {
                for &p in &frontier {
                    succ[p as usize].push(t);
                }
                preceded_by[t as usize] = frontier.clone();
            }
        }
    }
    succ
}

/// Whether the graph has a cycle (Kahn's peel leaves something).
fn cyclic(succ: &[Vec<u32>]) -> bool {
    let n = succ.len();
    let mut waiting = vec![0u32; n];
    for s in succ {
        for &w in s {
            waiting[w as usize] += 1;
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|&v| waiting[v] == 0).collect();
    let mut peeled = 0;
    while let Some(v) = ready.pop() {
        peeled += 1;
        for &w in &succ[v] {
            waiting[w as usize] -= 1;
            if waiting[w as usize] == 0 {
                ready.push(w as usize);
            }
        }
    }
    peeled < n
}

/// The number of transactions of a clean list-append history, or None: defer to Python.
pub fn clean_list_append<S: Source>(src: &mut S, order: u8, op_count: usize) -> Option<usize> {
    let (txns, mops, elements) = parse(src).ok()?;
    if anomalies(&txns, &mops, &elements) {
        return None;
    }
    let orders = versions(&txns, &mops, &elements)?;
    let succ = edges(&txns, &mops, &elements, &orders, order, op_count);
    if succ.iter().all(Vec::is_empty) || cyclic(&succ) {
        return None;
    }
    Some(txns.len())
}
