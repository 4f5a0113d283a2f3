//! labrys_native: the search core of labrys's `linearizable` and `sequential` checkers.
//!
//! Python (`labrys/checkers/_native_engine.py`) turns each independent part of a history
//! into plain arrays of integers — positions of calls and returns, processes, and the
//! operations as micro-operations on integer slots (see `model.rs`) — and calls
//! `check`. The parts are searched in parallel on all cores with the GIL released; each
//! comes back as a verdict, the longest prefix of operations placed (positions into the
//! part, in order) and how many pairs the memo held. Python builds the explanation from
//! those, with its own models, so the words are the same whichever engine ran.
//!
//! Nothing here knows what a history or a model name is: the encoding is the Python
//! side's job, and a malformed encoding is a `ValueError`, never a wrong verdict.

mod budget;
mod edn;
mod history;
mod json;
mod linear;
mod memo;
mod model;
mod readmap;
mod reader;
mod registers;
mod sequential;
mod txn;
mod value;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rayon::prelude::*;

use budget::{Budget, Exhausted, Meter};
use memo::Memo;
use model::{Machine, Micro, Texts};

/// One part of a history, ops in invocation order.
pub struct Part {
    calls: Vec<i64>,
    /// The position of each op's return, or -1 if it may never take effect.
    returns: Vec<i64>,
    processes: Vec<i64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Valid,
    Invalid,
    Unknown(Exhausted),
    Error,
}

pub struct Outcome {
    validity: Validity,
    prefix: Vec<u32>,
    explored: usize,
    memo_bytes: usize,
    error: Option<String>,
}

impl Outcome {
    fn ended(validity: Validity, prefix: Vec<u32>, memo: &Memo) -> Self {
        Outcome { validity, prefix, explored: memo.len(), memo_bytes: memo.bytes(), error: None }
    }
    fn valid(prefix: Vec<u32>, memo: &Memo) -> Self {
        Self::ended(Validity::Valid, prefix, memo)
    }
    fn invalid(prefix: Vec<u32>, memo: &Memo) -> Self {
        Self::ended(Validity::Invalid, prefix, memo)
    }
    fn unknown(why: Exhausted, prefix: Vec<u32>, memo: &Memo) -> Self {
        Self::ended(Validity::Unknown(why), prefix, memo)
    }
    fn error(message: String) -> Self {
        Outcome { validity: Validity::Error, prefix: Vec::new(), explored: 0, memo_bytes: 0, error: Some(message) }
    }
}

/// A part as it crosses from Python: (calls, returns, processes, starts, micros, init,
/// texts, none_id). `starts` has one more entry than there are ops; `micros` holds four
/// integers (kind, slot, a, b) per micro-operation; `init` one value per slot.
#[derive(FromPyObject)]
struct PartInput(
    Vec<i64>,
    Vec<i64>,
    Vec<i64>,
    Vec<usize>,
    Vec<i64>,
    Vec<i64>,
    Option<Vec<Option<String>>>,
    i64,
);

fn decode(input: PartInput) -> Result<(Part, Machine), String> {
    let PartInput(calls, returns, processes, starts, flat, init, texts, none_id) = input;
    let n = calls.len();
    if returns.len() != n || processes.len() != n || starts.len() != n + 1 {
        return Err(format!(
            "a part of {n} ops needs {n} returns and processes and {} starts; got {}, {} and {}",
            n + 1,
            returns.len(),
            processes.len(),
            starts.len()
        ));
    }
    if flat.len() % 4 != 0 {
        return Err("micro-operations come in fours: kind, slot, a, b".into());
    }
    if starts.windows(2).any(|w| w[0] > w[1]) || starts.first() != Some(&0) {
        return Err("operation starts must begin at 0 and never decrease".into());
    }
    if calls.windows(2).any(|w| w[0] > w[1]) {
        return Err("ops must come in invocation order".into());
    }
    let micros = flat
        .chunks_exact(4)
        .map(|q| Ok(Micro { kind: q[0], slot: usize::try_from(q[1]).map_err(|_| "negative slot")?, a: q[2], b: q[3] }))
        .collect::<Result<Vec<_>, &str>>()?;
    let texts = texts.map(|t| Texts::new(t, none_id));
    let machine = Machine::new(micros, starts, init, texts)?;
    Ok((Part { calls, returns, processes }, machine))
}

type PartResult = (String, String, Vec<u32>, usize, usize, f64);

/// Checks every part; see the module docs and `labrys_native.pyi`.
#[pyfunction]
#[pyo3(signature = (mode, parts, *, timeout_s=None, memory_limit_mb=None, stop_at_first_invalid=false, symmetry=false))]
fn check(
    py: Python<'_>,
    mode: &str,
    parts: Vec<PartInput>,
    timeout_s: Option<f64>,
    memory_limit_mb: Option<f64>,
    stop_at_first_invalid: bool,
    symmetry: bool,
) -> PyResult<Vec<PartResult>> {
    let sequential = match mode {
        "linearizable" => false,
        "sequential" => true,
        other => return Err(PyValueError::new_err(format!("mode must be linearizable or sequential, not {other:?}"))),
    };
    let decoded = parts.into_iter().map(decode).collect::<Result<Vec<_>, _>>().map_err(PyValueError::new_err)?;
    let budget = Budget {
        deadline: timeout_s.map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0))),
        memory_limit: memory_limit_mb.map(|mb| (mb.max(0.0) * 1024.0 * 1024.0) as usize),
        in_use: AtomicUsize::new(0),
        cancel: AtomicBool::new(false),
    };
    let results: Vec<PartResult> = py.allow_threads(|| {
        decoded
            .into_par_iter()
            .map(|(part, mut machine)| {
                let started = Instant::now();
                let mut meter = Meter::new(&budget);
                let outcome = if sequential {
                    // A linearization respects process order too, and real time prunes
                    // far more: when one exists it is found first and decides. Anything
                    // else is for the process-order search.
                    let witness = linear::search(&part, &mut machine, &mut meter, false);
                    match witness.validity {
                        Validity::Valid | Validity::Error | Validity::Unknown(_) => witness,
                        Validity::Invalid => sequential::search(&part, &mut machine, &mut meter),
                    }
                } else {
                    linear::search(&part, &mut machine, &mut meter, symmetry)
                };
                if stop_at_first_invalid && outcome.validity == Validity::Invalid {
                    budget.cancel.store(true, Ordering::Relaxed);
                }
                let peak = meter.peak.max(outcome.memo_bytes + machine.bytes());
                let (status, why) = match outcome.validity {
                    Validity::Valid => ("valid", String::new()),
                    Validity::Invalid => ("invalid", String::new()),
                    Validity::Unknown(why) => ("unknown", why.name().to_string()),
                    Validity::Error => ("error", outcome.error.unwrap_or_default()),
                };
                (status.to_string(), why, outcome.prefix, outcome.explored, peak, started.elapsed().as_secs_f64())
            })
            .collect()
    });
    Ok(results)
}

/// The micro-operation kinds, by name, for the Python encoder.
#[pyfunction]
fn micro_kinds() -> Vec<(&'static str, i64)> {
    vec![("read", model::READ), ("write", model::WRITE), ("cas", model::CAS), ("append", model::APPEND), ("add", model::ADD)]
}

#[pymodule]
fn labrys_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(micro_kinds, m)?)?;
    m.add_function(wrap_pyfunction!(history::read_history, m)?)?;
    m.add_function(wrap_pyfunction!(history::clean_list_append_ops, m)?)?;
    m.add_class::<history::NativeHistory>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
