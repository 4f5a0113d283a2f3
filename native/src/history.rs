//! `NativeHistory`: a history read by the native reader, held as columns.
//!
//! Python's `labrys.history.History` wraps one and turns ops into Python objects only
//! when something asks for them: the linearizability checks of the register family
//! never do, except for the few operations an explanation names.

use hashbrown::HashSet;
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

use crate::reader::{self, Columns, Proc, INVOKE, OK};
use crate::registers;
use crate::txn;
use crate::value::{Node, NONE};

#[pyclass(module = "labrys_native")]
pub struct NativeHistory {
    pub cols: Columns,
}

/// Read `path` in `format`; (history, "") or (None, why the native reader declined).
#[pyfunction]
pub fn read_history(py: Python<'_>, path: &str, format: &str) -> (Option<NativeHistory>, String) {
    match py.allow_threads(|| reader::read(path, format)) {
        Ok(cols) => (Some(NativeHistory { cols }), String::new()),
        Err(why) => (None, why.to_string()),
    }
}

/// `NativeHistory.clean_list_append` for a Python `History`: its ops and `_pair`.
#[pyfunction]
pub fn clean_list_append_ops(ops: &Bound<'_, PyList>, pairs: Vec<i64>, order: u8) -> Option<usize> {
    let n = ops.len();
    if pairs.len() != n {
        return None;
    }
    let mut source = txn::PyOps::new(ops.iter().collect(), pairs);
    txn::clean_list_append(&mut source, order, n)
}

impl NativeHistory {
    fn process<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.cols.procs[self.cols.process[i] as usize] {
            Proc::Int(p) => p.into_pyobject(py)?.into_any(),
            Proc::Str(s) => PyString::new(py, self.cols.vals.string(s)).into_any(),
        })
    }
}

#[pymethods]
impl NativeHistory {
    fn __len__(&self) -> usize {
        self.cols.len()
    }

    /// Ops `start..stop` as columns: (types, times, processes, fs, values, nodes, errors,
    /// extras); a type is 0-3 (invoke, ok, fail, info), an absent node or error None, an
    /// empty extra None. Values are new objects on each call.
    fn columns<'py>(&self, py: Python<'py>, start: usize, stop: usize) -> PyResult<Bound<'py, PyAny>> {
        let stop = stop.min(self.cols.len());
        self.columns_of(py, start.min(stop)..stop)
    }

    /// The ops at `indices`, as `columns` gives them.
    fn columns_at<'py>(&self, py: Python<'py>, indices: Vec<usize>) -> PyResult<Bound<'py, PyAny>> {
        if indices.iter().any(|&i| i >= self.cols.len()) {
            return Err(PyIndexError::new_err("op index out of range"));
        }
        self.columns_of(py, indices.into_iter())
    }

    /// The partner of each op (its completion or invocation), -1 for none.
    fn pairs(&self) -> Vec<i64> {
        self.cols.pair.iter().map(|&p| if p == NONE { -1 } else { p as i64 }).collect()
    }

    /// The partner of op `i`, -1 for none.
    fn partner(&self, i: usize) -> PyResult<i64> {
        let p = *self.cols.pair.get(i).ok_or_else(|| PyIndexError::new_err("op index out of range"))?;
        Ok(if p == NONE { -1 } else { p as i64 })
    }

    /// The register family's linearizability check; see `labrys_native.pyi`.
    #[pyo3(signature = (model, initial, *, independent, partition, timeout_s, memory_limit_mb, explain_mb, read_mapping))]
    #[allow(clippy::too_many_arguments)]
    fn check_registers<'py>(
        &mut self,
        py: Python<'py>,
        model: &str,
        initial: &Bound<'py, PyAny>,
        independent: bool,
        partition: bool,
        timeout_s: Option<f64>,
        memory_limit_mb: f64,
        explain_mb: f64,
        read_mapping: bool,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let request = registers::Request { model, independent, partition, timeout_s, memory_limit_mb, explain_mb, read_mapping };
        registers::check(py, self, initial, request)
    }

    /// The number of transactions of a list-append history with nothing to report under
    /// the given order edges (0, 8 process, 16 realtime), or None: check it in Python.
    fn clean_list_append(&mut self, py: Python<'_>, order: u8) -> Option<usize> {
        let cols = &mut self.cols;
        let n = cols.len();
        py.allow_threads(|| txn::clean_list_append(cols, order, n))
    }

    /// The functions (f) that clients' ops use.
    fn client_functions(&self) -> Vec<String> {
        let c = &self.cols;
        let used: HashSet<u32> = (0..c.len()).filter(|&i| c.is_client(i)).map(|i| c.f[i]).collect();
        used.into_iter().map(|s| c.vals.string(s).to_string()).collect()
    }

    /// Whether the values are Jepsen's independent keys: see `History.keyed_values`.
    fn keyed_values(&self) -> bool {
        let c = &self.cols;
        let pair = |v: u32| match c.vals.node(v) {
            Node::List { start, len: 2 } => Some(c.vals.kids(start, 2)[1]),
            _ => None,
        };
        let mut not_cas = false;
        for i in (0..c.len()).filter(|&i| c.is_client(i) && matches!(c.types[i], INVOKE | OK)) {
            let Some(second) = pair(c.value[i]) else { return false };
            if c.vals.string(c.f[i]) != "cas" {
                not_cas = true;
            } else if pair(second).is_none() {
                return false;
            }
        }
        not_cas
    }
}

impl NativeHistory {
    fn columns_of<'py>(&self, py: Python<'py>, indices: impl Iterator<Item = usize>) -> PyResult<Bound<'py, PyAny>> {
        let c = &self.cols;
        let mut fs: Vec<Option<Bound<'py, PyString>>> = vec![None; c.vals.string_count()];
        let mut str_of = |s: u32| -> Bound<'py, PyString> {
            let slot = &mut fs[s as usize];
            slot.get_or_insert_with(|| PyString::new(py, c.vals.string(s))).clone()
        };
        let types = PyList::empty(py);
        let times = PyList::empty(py);
        let processes = PyList::empty(py);
        let functions = PyList::empty(py);
        let values = PyList::empty(py);
        let nodes = PyList::empty(py);
        let errors = PyList::empty(py);
        let extras = PyList::empty(py);
        for i in indices {
            types.append(c.types[i])?;
            times.append(c.time[i])?;
            processes.append(self.process(py, i)?)?;
            functions.append(str_of(c.f[i]))?;
            values.append(c.vals.to_python(py, c.value[i])?)?;
            if c.node[i] == NONE {
                nodes.append(py.None())?;
            } else {
                nodes.append(str_of(c.node[i]))?;
            }
            if c.error[i] == NONE {
                errors.append(py.None())?;
            } else {
                errors.append(c.vals.to_python(py, c.error[i])?)?;
            }
            let (lo, hi) = (c.extra_start[i] as usize, c.extra_start[i + 1] as usize);
            if lo == hi {
                extras.append(py.None())?;
            } else {
                let d = PyDict::new(py);
                for &(k, v) in &c.extra[lo..hi] {
                    d.set_item(str_of(k), c.vals.to_python(py, v)?)?;
                }
                extras.append(d)?;
            }
        }
        Ok((types, times, processes, functions, values, nodes, errors, extras).into_pyobject(py)?.into_any())
    }
}
