//! The register family (register, cas-register, kv per key) checked on a history's
//! columns, from the file to the verdict, without a Python object per operation.
//!
//! Every step is the Python path's, in the same order, so that the verdict and its
//! explanation are the same: calls as `call_from_operation` and the models' `prepare`
//! make them (`labrys/models/_register.py`, `_kv.py`), parts per kv key in order of
//! first appearance, the exact reductions of `labrys/checkers/_reduce.py`, then per
//! part the read-mapping (`readmap.rs`) or the search (`linear.rs`), as
//! `labrys/checkers/_decide.py` chooses. What the Python models would refuse (an
//! unknown function, a malformed value) or values whose equality is not modelled here
//! make the check *declined*, and Python checks the history its own way, raising its
//! own errors.
//!
//! For an invalid part only what its explanation names comes back: the operations at
//! the end of the longest prefix and those that could come next, or the read-mapping's
//! proof, each operation as (index, f, known, return index).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hashbrown::{HashMap, HashSet};
use pyo3::exceptions::PyAssertionError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use rayon::prelude::*;

use crate::budget::{Budget, Meter};
use crate::history::NativeHistory;
use crate::model::{self, Machine, Micro, Texts};
use crate::readmap::{self, Conflict, Role};
use crate::reader::{Columns, FAIL, INVOKE, OK};
use crate::value::{Node, Vid};
use crate::{linear, Outcome, Part, Validity};

const SHOWN_STEPS: usize = 10;
const SHOWN_OPTIONS: usize = 10;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    Register { cas: bool },
    Kv,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    Cas,
    Append,
}

#[derive(Clone, Copy)]
struct Call {
    /// History index of the invocation.
    index: i64,
    process: u32,
    kind: Kind,
    /// The call's value in the history (completion's if ok, else invocation's).
    value: Vid,
    /// Read: the value read; write/put/append: the value written; cas: the old value.
    a: u32,
    /// Cas: the new value.
    b: u32,
    key: u32,
    known: bool,
    /// The return index, -1 if none.
    ret: i64,
}

impl Call {
    fn written(&self) -> u32 {
        if self.kind == Kind::Cas {
            self.b
        } else {
            self.a
        }
    }
    fn name(&self, family: Family) -> &'static str {
        match (family, self.kind) {
            (Family::Kv, Kind::Read) => "get",
            (Family::Kv, Kind::Write) => "put",
            (_, Kind::Append) => "append",
            (_, Kind::Read) => "read",
            (_, Kind::Write) => "write",
            (_, Kind::Cas) => "cas",
        }
    }
}

type Declined = &'static str;

fn class(cols: &mut Columns, v: Vid) -> Result<u32, Declined> {
    cols.vals.class(v).ok_or("a value whose equality is not modelled natively")
}

fn pair(cols: &Columns, v: Vid) -> Result<(Vid, Vid), Declined> {
    match cols.vals.node(v) {
        Node::List { start, len: 2 } => {
            let k = cols.vals.kids(start, 2);
            Ok((k[0], k[1]))
        }
        _ => Err("a value that is not a pair"),
    }
}

/// The calls of the history, as `call_from_operation` and the model's `prepare` give them.
/// With `independent`, values are `[key value]` pairs (Jepsen's independent keys): each
/// call's key is the pair's first item and its value, from then on, the second.
fn calls(cols: &mut Columns, family: Family, independent: bool, initial_is_nil: bool) -> Result<Vec<Call>, Declined> {
    let mut out = Vec::new();
    let n = cols.len();
    for i in 0..n {
        if !cols.is_client(i) || !cols.is_invocation(i) {
            continue;
        }
        let completion = cols.pair[i];
        let kind_code = if completion == crate::value::NONE { crate::reader::INFO } else { cols.types[completion as usize] };
        if kind_code == FAIL {
            continue;
        }
        debug_assert_eq!(cols.types[i], INVOKE);
        let known = kind_code == OK;
        let value = if known { cols.value[completion as usize] } else { cols.value[i] };
        let (outer_key, value) = if independent {
            let (k, v) = pair(cols, value)?;
            (class(cols, k)?, v)
        } else {
            (0, value)
        };
        let f = cols.vals.string(cols.f[i]);
        let kind = match (family, f) {
            (Family::Register { .. }, "read" | "r") => Kind::Read,
            (Family::Register { .. }, "write" | "w") => Kind::Write,
            (Family::Register { cas: true }, "cas") => Kind::Cas,
            (Family::Kv, "get" | "read" | "r") => Kind::Read,
            (Family::Kv, "put" | "write" | "w") => Kind::Write,
            (Family::Kv, "append") => Kind::Append,
            _ => return Err("an operation the model does not know"),
        };
        let (a, b, key) = match family {
            Family::Register { .. } if kind == Kind::Cas => {
                let (old, new) = pair(cols, value)?;
                (class(cols, old)?, class(cols, new)?, outer_key)
            }
            Family::Register { .. } => (class(cols, value)?, 0, outer_key),
            Family::Kv => {
                let (k, v) = pair(cols, value)?;
                let key = class(cols, k)?;
                (class(cols, v)?, 0, key)
            }
        };
        out.push(Call {
            index: i as i64,
            process: cols.process[i],
            kind,
            value,
            a,
            b,
            key,
            known,
            ret: if known { completion as i64 } else { -1 },
        });
    }
    // prepare: unknown reads constrain nothing; a register's read of nil means "no
    // value" unless the register can hold nil (each key of independent registers on its
    // own, as `Independent.prepare` decides per key).
    let is_nil = |cols: &Columns, v: Vid| cols.vals.node(v) == Node::Nil;
    let holds_nil: HashSet<u32> = match family {
        Family::Kv => HashSet::new(),
        Family::Register { .. } => out
            .iter()
            .filter(|c| match c.kind {
                Kind::Write => is_nil(cols, c.value),
                Kind::Cas => pair(cols, c.value).is_ok_and(|(_, new)| is_nil(cols, new)),
                _ => false,
            })
            .map(|c| c.key)
            .collect(),
    };
    let can_hold_nil = |c: &Call| family == Family::Kv || initial_is_nil || holds_nil.contains(&c.key);
    out.retain(|c| c.kind != Kind::Read || (c.known && (can_hold_nil(c) || !is_nil(cols, c.value))));
    Ok(out)
}

/// `_reduce.reduce_calls`: rules 2 and 3 until nothing changes.
fn reduce(cols: &Columns, family: Family, initial: u32, mut calls: Vec<Call>, dropped: &mut Vec<i64>, bounded: &mut Vec<(i64, i64)>) -> Vec<Call> {
    let bound = !(family == Family::Kv && calls.iter().any(|c| c.kind == Kind::Append));
    let text = |c: u32| cols.vals.class_text(c);
    loop {
        let before = (calls.len(), bounded.len());
        let has_appends = family == Family::Kv && calls.iter().any(|c| c.kind == Kind::Append);
        loop {
            let reads: Vec<u32> = calls.iter().filter(|c| c.kind == Kind::Read && c.known).map(|c| c.a).collect();
            let read_set: HashSet<u32> = reads.iter().copied().collect();
            let expected: HashSet<u32> = calls.iter().filter(|c| c.kind == Kind::Cas).map(|c| c.a).collect();
            let droppable = |c: &Call| -> bool {
                if c.known {
                    return false;
                }
                match c.kind {
                    Kind::Read => false,
                    Kind::Append => text(c.a).is_some_and(|v| !reads.iter().any(|&r| text(r).is_some_and(|r| r.contains(v)))),
                    _ if has_appends => text(c.a).is_some_and(|v| !reads.iter().any(|&r| text(r).is_some_and(|r| r.starts_with(v)))),
                    _ => {
                        let v = c.written();
                        !read_set.contains(&v) && !expected.contains(&v)
                    }
                }
            };
            let drop: Vec<bool> = calls.iter().map(droppable).collect();
            if !drop.iter().any(|&d| d) {
                break;
            }
            dropped.extend(calls.iter().zip(&drop).filter(|(_, &d)| d).map(|(c, _)| c.index));
            let mut k = 0;
            calls.retain(|_| {
                k += 1;
                !drop[k - 1]
            });
        }
        if bound {
            let mut writes: HashMap<u32, usize> = HashMap::new();
            for c in calls.iter().filter(|c| matches!(c.kind, Kind::Write | Kind::Cas)) {
                *writes.entry(c.written()).or_default() += 1;
            }
            let mut first_seen: HashMap<u32, i64> = HashMap::new();
            for c in &calls {
                if c.ret >= 0 && matches!(c.kind, Kind::Read | Kind::Cas) {
                    let e = first_seen.entry(c.a).or_insert(c.ret);
                    *e = (*e).min(c.ret);
                }
            }
            for c in calls.iter_mut() {
                let v = c.written();
                if c.known || !matches!(c.kind, Kind::Write | Kind::Cas) || writes.get(&v) != Some(&1) || v == initial {
                    continue;
                }
                let Some(&seen) = first_seen.get(&v) else { continue };
                if seen < c.index {
                    continue;
                }
                c.known = true;
                c.ret = seen;
                bounded.push((c.index, seen));
            }
        }
        if (calls.len(), bounded.len()) == before {
            return calls;
        }
    }
}

/// How many calls the model took, the parts to decide, and the operations the
/// reductions dropped and bounded.
type Prepared = (usize, Vec<Piece>, Vec<i64>, Vec<(i64, i64)>);

/// One part: its key (a value of the history, for kv) and calls.
struct Piece {
    key: Option<Vid>,
    calls: Vec<Call>,
}

/// The search's input for a part: values renumbered densely, in order of first sight.
fn encode(cols: &Columns, family: Family, initial: u32, calls: &[Call]) -> Result<(Part, Machine), String> {
    let mut local: HashMap<u32, i64> = HashMap::new();
    let mut texts: Vec<Option<String>> = Vec::new();
    let mut id = |c: u32| -> i64 {
        let next = local.len() as i64;
        *local.entry(c).or_insert_with(|| {
            texts.push(cols.vals.class_text(c).map(str::to_string));
            next
        })
    };
    let init = id(initial);
    let mut micros = Vec::with_capacity(calls.len());
    let mut starts = Vec::with_capacity(calls.len() + 1);
    starts.push(0usize);
    for c in calls {
        let (kind, a, b) = match c.kind {
            Kind::Read => (model::READ, id(c.a), 0),
            Kind::Write => (model::WRITE, id(c.a), 0),
            Kind::Cas => (model::CAS, id(c.a), id(c.b)),
            Kind::Append => (model::APPEND, id(c.a), 0),
        };
        micros.push(Micro { kind, slot: 0, a, b });
        starts.push(micros.len());
    }
    let texts = (family == Family::Kv).then(|| {
        let none_id = texts.iter().enumerate().find_map(|(i, _)| {
            let class = local.iter().find(|&(_, &l)| l == i as i64).map(|(&c, _)| c)?;
            (cols.vals.class_is_nil(class)).then_some(i as i64)
        });
        Texts::new(texts, none_id.unwrap_or(-1))
    });
    let machine = Machine::new(micros, starts, vec![init], texts)?;
    let mut processes: HashMap<u32, i64> = HashMap::new();
    let part = Part {
        calls: calls.iter().map(|c| c.index).collect(),
        returns: calls.iter().map(|c| c.ret).collect(),
        processes: calls
            .iter()
            .map(|c| {
                let next = processes.len() as i64;
                *processes.entry(c.process).or_insert(next)
            })
            .collect(),
    };
    Ok((part, machine))
}

/// How one part was decided.
struct Decision {
    status: Validity,
    algorithm: &'static str,
    explored: usize,
    prefix: Vec<u32>,
    conflict: Option<Conflict>,
    machine: Option<Machine>,
}

fn roles(family: Family, calls: &[Call]) -> Option<Vec<Role>> {
    calls
        .iter()
        .map(|c| match c.kind {
            Kind::Read => Some(Role::Read { expected: c.a }),
            Kind::Write => Some(Role::Write { written: c.a }),
            Kind::Cas => Some(Role::Cas { expected: c.a, written: c.b }),
            Kind::Append if family == Family::Kv => None,
            Kind::Append => None,
        })
        .collect()
}

fn read_mapping(family: Family, initial: u32, calls: &[Call]) -> Option<Option<Conflict>> {
    let roles = roles(family, calls)?;
    let invoked: Vec<i64> = calls.iter().map(|c| c.index).collect();
    let returned: Vec<i64> = calls.iter().map(|c| if c.ret < 0 { i64::MAX } else { c.ret }).collect();
    let known: Vec<bool> = calls.iter().map(|c| c.known).collect();
    readmap::decide(&roles, &invoked, &returned, &known, initial)
}

/// The search of one part. It decides with crashed operations of identical effect
/// placed in invocation order only (`linear.rs`'s symmetry: the same verdicts from far
/// fewer states); an invalid part is searched again without, because its explanation
/// must show the longest prefix the Python engine finds.
fn search(cols: &Columns, family: Family, initial: u32, calls: &[Call], budget: &Budget, stop: bool) -> Result<(Outcome, Machine), String> {
    let (part, mut machine) = encode(cols, family, initial, calls)?;
    let mut meter = Meter::new(budget);
    let mut outcome = linear::search(&part, &mut machine, &mut meter, true);
    if outcome.validity == Validity::Invalid {
        drop(meter);
        let (part, mut plain_machine) = encode(cols, family, initial, calls)?;
        let mut meter = Meter::new(budget);
        let plain = linear::search(&part, &mut plain_machine, &mut meter, false);
        match plain.validity {
            Validity::Invalid => {
                outcome = plain;
                machine = plain_machine;
            }
            // Out of budget: the symmetric search's own prefix explains it.
            Validity::Unknown(_) => {}
            _ => return Err("the searches with and without symmetry disagree".to_string()),
        }
    }
    if stop && outcome.validity == Validity::Invalid {
        budget.cancel.store(true, Ordering::Relaxed);
    }
    if outcome.validity == Validity::Error {
        return Err(outcome.error.unwrap_or_default());
    }
    Ok((outcome, machine))
}

fn budget(timeout_s: Option<f64>, memory_bytes: usize) -> Budget {
    Budget {
        deadline: timeout_s.map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0))),
        memory_limit: Some(memory_bytes),
        in_use: AtomicUsize::new(0),
        cancel: AtomicBool::new(false),
    }
}

struct Settings {
    family: Family,
    initial: u32,
    timeout_s: Option<f64>,
    memory_bytes: usize,
    explain_bytes: usize,
    read_mapping: bool,
}

/// `_decide.decide_parts`, for parts of the register family.
fn decide(cols: &Columns, pieces: &[Piece], s: &Settings) -> Result<Vec<Decision>, String> {
    let mapped: Vec<Option<Option<Conflict>>> = if s.read_mapping {
        pieces.par_iter().map(|p| read_mapping(s.family, s.initial, &p.calls)).collect()
    } else {
        pieces.iter().map(|_| None).collect()
    };
    let refuted = mapped.iter().any(|m| matches!(m, Some(Some(_))));
    let decided = |status: Validity, algorithm: &'static str| Decision { status, algorithm, explored: 0, prefix: vec![], conflict: None, machine: None };
    if refuted {
        let small = budget(s.timeout_s, s.memory_bytes.min(s.explain_bytes));
        let mut out = Vec::with_capacity(pieces.len());
        for (p, m) in pieces.iter().zip(mapped) {
            out.push(match m {
                None => decided(Validity::Unknown(crate::budget::Exhausted::Cancelled), "search"),
                Some(None) => decided(Validity::Valid, "read-mapping"),
                Some(Some(conflict)) => {
                    small.in_use.store(0, Ordering::Relaxed);
                    let (outcome, machine) = search(cols, s.family, s.initial, &p.calls, &small, false)?;
                    match outcome.validity {
                        Validity::Valid => {
                            return Err(format!(
                                "the read-mapping and the search disagree on the part of op {}: read-mapping says invalid, search valid",
                                p.calls.first().map_or(-1, |c| c.index)
                            ))
                        }
                        Validity::Invalid => Decision {
                            status: Validity::Invalid,
                            algorithm: "read-mapping",
                            explored: outcome.explored,
                            prefix: outcome.prefix,
                            conflict: None,
                            machine: Some(machine),
                        },
                        _ => Decision {
                            status: Validity::Invalid,
                            algorithm: "read-mapping",
                            explored: outcome.explored,
                            prefix: vec![],
                            conflict: Some(conflict),
                            machine: None,
                        },
                    }
                }
            });
        }
        return Ok(out);
    }
    let shared = budget(s.timeout_s, s.memory_bytes);
    pieces
        .par_iter()
        .zip(mapped)
        .map(|(p, m)| {
            if m.is_some() {
                return Ok(decided(Validity::Valid, "read-mapping"));
            }
            let (outcome, machine) = search(cols, s.family, s.initial, &p.calls, &shared, true)?;
            Ok(Decision {
                status: outcome.validity,
                algorithm: "search",
                explored: outcome.explored,
                prefix: outcome.prefix,
                conflict: None,
                machine: Some(machine),
            })
        })
        .collect()
}

/// (index, f, known, return index or -1): how Python rebuilds a call.
fn describe<'py>(py: Python<'py>, family: Family, c: &Call) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, [
        c.index.into_pyobject(py)?.into_any(),
        PyString::new(py, c.name(family)).into_any(),
        pyo3::types::PyBool::new(py, c.known).to_owned().into_any(),
        c.ret.into_pyobject(py)?.into_any(),
    ])
}

/// Where a search got stuck: (placed, last steps, state before them or None for the
/// initial state, options, how many more options).
fn impasse<'py>(py: Python<'py>, cols: &Columns, family: Family, calls: &[Call], d: &mut Decision) -> PyResult<Bound<'py, PyAny>> {
    let prefix = &d.prefix;
    let first = prefix.len().saturating_sub(SHOWN_STEPS);
    // The state before the shown steps: the value written last before them, as the
    // history holds it, or a string the machine built by appending.
    let mut state: Option<Bound<'py, PyAny>> = None;
    if let Some(machine) = d.machine.as_mut() {
        let mut last: Option<usize> = None;
        let mut appended = false;
        let mut at = machine.init;
        for &i in &prefix[..first] {
            let c = &calls[i as usize];
            at = machine.step(at, i as usize).ok().flatten().unwrap_or(at);
            match c.kind {
                Kind::Write | Kind::Cas => {
                    last = Some(i as usize);
                    appended = false;
                }
                Kind::Append => appended = true,
                Kind::Read => {}
            }
        }
        if appended {
            state = machine.text_of(at).map(|t| PyString::new(py, t).into_any());
        } else if let Some(w) = last {
            let c = &calls[w];
            let written = match (family, c.kind) {
                (Family::Register { .. }, Kind::Cas) => pair(cols, c.value).map(|(_, new)| new).ok(),
                (Family::Register { .. }, _) => Some(c.value),
                (Family::Kv, _) => pair(cols, c.value).map(|(_, v)| v).ok(),
            };
            if let Some(v) = written {
                state = Some(cols.vals.to_python(py, v)?);
            }
        }
    }
    // The options: the pending ok call that completed first, then every unplaced call
    // invoked before that completion (`_linearizable_explain._options`).
    let mut placed = vec![false; calls.len()];
    for &i in prefix {
        placed[i as usize] = true;
    }
    let stuck = (0..calls.len()).filter(|&i| calls[i].known && !placed[i]).min_by_key(|&i| (calls[i].ret, i));
    let mut options: Vec<usize> = Vec::new();
    let mut more = 0usize;
    if let Some(stuck) = stuck {
        options.push(stuck);
        let deadline = calls[stuck].ret;
        for i in 0..calls.len() {
            if !placed[i] && i != stuck && calls[i].index < deadline {
                if options.len() < SHOWN_OPTIONS {
                    options.push(i);
                } else {
                    more += 1;
                }
            }
        }
    }
    let steps = PyList::empty(py);
    for &i in &prefix[first..] {
        steps.append(describe(py, family, &calls[i as usize])?)?;
    }
    let shown = PyList::empty(py);
    for &i in &options {
        shown.append(describe(py, family, &calls[i])?)?;
    }
    let has_state = state.is_some();
    let state = state.unwrap_or_else(|| py.None().into_bound(py));
    Ok((prefix.len(), steps, (has_state, state), shown, more).into_pyobject(py)?.into_any())
}

/// The read-mapping's proof: (kind, op, others, chains); each chain is (writer or None,
/// first value, last value, length).
fn refutation<'py>(
    py: Python<'py>,
    cols: &Columns,
    family: Family,
    (initial_value, initial_class): (Vid, u32),
    calls: &[Call],
    c: &Conflict,
) -> PyResult<Bound<'py, PyAny>> {
    let at = |i: i64| -> PyResult<Bound<'py, PyAny>> {
        if i < 0 {
            Ok(py.None().into_bound(py))
        } else {
            Ok(describe(py, family, &calls[i as usize])?.into_any())
        }
    };
    let others = PyList::empty(py);
    for &o in &c.others {
        others.append(at(o)?)?;
    }
    // A chain's values: its write, then each cas from the value before.
    let mut after: HashMap<u32, (u32, Vid)> = HashMap::new();
    for call in calls.iter().filter(|c| c.kind == Kind::Cas) {
        if let Ok((_, new)) = pair(cols, call.value) {
            after.insert(call.a, (call.b, new));
        }
    }
    let chains = PyList::empty(py);
    for &root in &c.chains {
        let (mut class, first) = if root < 0 {
            (initial_class, initial_value)
        } else {
            let call = &calls[root as usize];
            let v = match family {
                Family::Kv => pair(cols, call.value).map(|(_, v)| v).unwrap_or(call.value),
                Family::Register { .. } => call.value,
            };
            (call.a, v)
        };
        let (mut last, mut length) = (first, 1usize);
        while let Some(&(next, v)) = after.get(&class) {
            if length > calls.len() {
                break;
            }
            last = v;
            length += 1;
            class = next;
        }
        chains.append((at(root)?, cols.vals.to_python(py, first)?, cols.vals.to_python(py, last)?, length).into_pyobject(py)?)?;
    }
    Ok((c.kind, at(c.op)?, others, chains).into_pyobject(py)?.into_any())
}

/// The options of one check, as `NativeHistory.check_registers` takes them.
pub struct Request<'a> {
    pub model: &'a str,
    pub independent: bool,
    pub partition: bool,
    pub timeout_s: Option<f64>,
    pub memory_limit_mb: f64,
    pub explain_mb: f64,
    pub read_mapping: bool,
}

/// The register family's linearizability check on these columns, or None when it must
/// be done in Python (see the module docs and `labrys_native.pyi`).
pub fn check<'py>(py: Python<'py>, history: &mut NativeHistory, initial: &Bound<'py, PyAny>, r: Request<'_>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let Request { model, independent, partition, timeout_s, memory_limit_mb, explain_mb, read_mapping } = r;
    let family = match model {
        "register" => Family::Register { cas: false },
        "cas-register" => Family::Register { cas: true },
        "kv" if partition && !independent => Family::Kv,
        _ => return Ok(None),
    };
    if independent && !partition {
        return Ok(None);
    }
    let cols = &mut history.cols;
    let Some(initial_value) = cols.vals.intern_python(initial) else { return Ok(None) };
    let Some(initial_class) = cols.vals.class(initial_value) else { return Ok(None) };
    let initial_is_nil = initial.is_none();
    let settings = Settings {
        family,
        initial: initial_class,
        timeout_s,
        memory_bytes: (memory_limit_mb.max(0.0) * 1048576.0) as usize,
        explain_bytes: (explain_mb.max(0.0) * 1048576.0) as usize,
        read_mapping,
    };
    let prepared = py.allow_threads(|| -> Result<Option<Prepared>, String> {
        let all = match calls(cols, family, independent, initial_is_nil) {
            Ok(c) => c,
            Err(_) => return Ok(None),
        };
        let operations = all.len();
        let mut pieces: Vec<Piece> = Vec::new();
        if family == Family::Kv || independent {
            let mut by_key: HashMap<u32, usize> = HashMap::new();
            for c in all {
                let at = *by_key.entry(c.key).or_insert_with(|| {
                    let key = if independent { cols.vals.class_value[c.key as usize] } else { pair(cols, c.value).map(|(k, _)| k).unwrap_or(c.value) };
                    pieces.push(Piece { key: Some(key), calls: Vec::new() });
                    pieces.len() - 1
                });
                pieces[at].calls.push(c);
            }
        } else {
            pieces.push(Piece { key: None, calls: all });
        }
        let mut dropped = Vec::new();
        let mut bounded = Vec::new();
        let pieces: Vec<Piece> = pieces
            .into_iter()
            .map(|p| Piece { key: p.key, calls: reduce(cols, family, initial_class, p.calls, &mut dropped, &mut bounded) })
            .collect();
        dropped.sort_unstable();
        bounded.sort_unstable();
        Ok(Some((operations, pieces, dropped, bounded)))
    });
    let Some((operations, pieces, dropped, bounded)) = prepared.map_err(PyAssertionError::new_err)? else { return Ok(None) };
    let cols = &history.cols;
    let decided = py.allow_threads(|| decide(cols, &pieces, &settings));
    let mut decided = match decided {
        Ok(d) => d,
        Err(e) if e.contains("disagree") => return Err(PyAssertionError::new_err(e)),
        Err(_) => return Ok(None),
    };
    let parts = PyList::empty(py);
    for (p, d) in pieces.iter().zip(decided.iter_mut()) {
        let (status, why) = match d.status {
            Validity::Valid => ("valid", ""),
            Validity::Invalid => ("invalid", ""),
            Validity::Unknown(why) => ("unknown", why.name()),
            Validity::Error => ("error", ""),
        };
        let key = match p.key {
            Some(k) => cols.vals.to_python(py, k)?,
            None => py.None().into_bound(py),
        };
        let explanation = if d.status != Validity::Invalid {
            py.None().into_bound(py)
        } else if let Some(c) = &d.conflict {
            ("refutation", refutation(py, cols, family, (initial_value, initial_class), &p.calls, c)?).into_pyobject(py)?.into_any()
        } else {
            ("impasse", impasse(py, cols, family, &p.calls, d)?).into_pyobject(py)?.into_any()
        };
        parts.append((key, p.calls.len(), status, why, d.algorithm, d.explored, explanation).into_pyobject(py)?)?;
    }
    Ok(Some((operations, parts, dropped, bounded).into_pyobject(py)?.into_any()))
}
