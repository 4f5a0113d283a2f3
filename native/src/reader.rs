//! Reading a history file into columns: one entry per op, values interned.
//!
//! The formats and their rules are those of `labrys/history/_formats.py` and
//! `_history.py`, which stay the reference: each record becomes an op exactly as
//! `op_from_dict` makes it, and invocations are paired with completions exactly as
//! `History` validates them. Anything off that path (a malformed line, an op a process
//! invokes while another is in flight, a field of an unexpected type, a construct the
//! parsers here do not reproduce) makes the whole read *declined*: the caller reads the
//! file again with the Python reader, which gives the history, or the error message,
//! it always gave. So a malformed file costs two reads, and never a different message.
//!
//! JSON Lines are read as a stream, a buffer at a time; the other formats are read whole
//! (their writers hold the whole history in memory anyway).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use hashbrown::HashMap;

use crate::edn::{Edn, Record};
use crate::json::{Declined, Json, MAX_LINE};
use crate::value::{Node, Values, Vid, NONE};

pub const INVOKE: u8 = 0;
pub const OK: u8 = 1;
pub const FAIL: u8 = 2;
pub const INFO: u8 = 3;

/// Who did an op: an integer is a client; a name (the nemesis) is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proc {
    Int(i64),
    Str(u32),
}

/// A history as columns. `pair[i]` is the partner of op `i` (its completion or its
/// invocation), `NONE` for an invocation that never completed.
pub struct Columns {
    pub vals: Values,
    pub types: Vec<u8>,
    pub process: Vec<u32>,
    pub procs: Vec<Proc>,
    pub f: Vec<u32>,
    pub value: Vec<Vid>,
    pub time: Vec<i64>,
    pub node: Vec<u32>,
    pub error: Vec<Vid>,
    pub extra_start: Vec<u32>,
    pub extra: Vec<(u32, Vid)>,
    pub pair: Vec<u32>,
}

impl Columns {
    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_client(&self, i: usize) -> bool {
        matches!(self.procs[self.process[i] as usize], Proc::Int(_))
    }

    /// Whether op `i` opens an operation (an invocation, or the nemesis's opening info).
    pub fn is_invocation(&self, i: usize) -> bool {
        let p = self.pair[i];
        p == NONE || p as usize > i
    }

    /// Bytes held, roughly.
    pub fn bytes(&self) -> usize {
        self.vals.bytes() + self.types.capacity() * 37 + self.extra.capacity() * 8
    }
}

struct Keys {
    index: u32,
    time: u32,
    kind: u32,
    process: u32,
    f: u32,
    value: u32,
    node: u32,
    error: u32,
    key: u32,
    source_index: u32,
    txn: u32,
    types: [u32; 4],
}

/// One op's fields, as `push` takes them.
struct Op {
    kind: u8,
    process: Proc,
    f: u32,
    time: i64,
    value: Vid,
    node: u32,
    error: Vid,
}

struct Builder {
    /// Everything but the values, which the parsers hold while they read.
    cols: Columns,
    keys: Keys,
    proc_ids: HashMap<Proc, u32>,
    open: HashMap<u32, u32>,
    record: Vec<(u32, Vid)>,
}

impl Builder {
    fn new(vals: &mut Values) -> Self {
        let mut s = |t: &str| vals.intern_str(t);
        let keys = Keys {
            index: s("index"),
            time: s("time"),
            kind: s("type"),
            process: s("process"),
            f: s("f"),
            value: s("value"),
            node: s("node"),
            error: s("error"),
            key: s("key"),
            source_index: s("source_index"),
            txn: s("txn"),
            types: [s("invoke"), s("ok"), s("fail"), s("info")],
        };
        Builder {
            cols: Columns {
                vals: Values::new(),
                types: Vec::new(),
                process: Vec::new(),
                procs: Vec::new(),
                f: Vec::new(),
                value: Vec::new(),
                time: Vec::new(),
                node: Vec::new(),
                error: Vec::new(),
                extra_start: vec![0],
                extra: Vec::new(),
                pair: Vec::new(),
            },
            keys,
            proc_ids: HashMap::new(),
            open: HashMap::new(),
            record: Vec::new(),
        }
    }

    /// A record whose keys are values (EDN maps): every key must be a string.
    fn add_keyed(&mut self, vals: &mut Values, pairs: &[(Vid, Vid)]) -> Result<(), Declined> {
        let mut record = std::mem::take(&mut self.record);
        record.clear();
        for &(k, v) in pairs {
            match vals.node(k) {
                Node::Str(s) => record.push((s, v)),
                _ => return Err("a field name that is not a string"),
            }
        }
        let result = self.add(vals, &record);
        self.record = record;
        result
    }

    fn get(record: &[(u32, Vid)], key: u32) -> Option<Vid> {
        record.iter().find(|&&(k, _)| k == key).map(|&(_, v)| v)
    }

    /// One op from one record, as `op_from_dict` makes it, validated and paired as
    /// `History` does. `record` has no repeated keys.
    fn add(&mut self, vals: &mut Values, record: &[(u32, Vid)]) -> Result<(), Declined> {
        let k = &self.keys;
        let position = self.cols.types.len();
        let kind = match Self::get(record, k.kind).map(|v| vals.node(v)) {
            Some(Node::Str(s)) => k.types.iter().position(|&t| t == s).ok_or("unknown type")? as u8,
            _ => return Err("no type"),
        };
        let process = match Self::get(record, k.process).map(|v| vals.node(v)) {
            None => Proc::Int(0),
            Some(Node::Int(i)) => Proc::Int(i),
            Some(Node::Str(s)) => Proc::Str(s),
            Some(_) => return Err("a process that is neither an integer nor a name"),
        };
        let f = match Self::get(record, k.f).map(|v| vals.node(v)) {
            None => k.txn,
            Some(Node::Str(s)) => s,
            Some(_) => return Err("an f that is not a string"),
        };
        let time = match Self::get(record, k.time).map(|v| vals.node(v)) {
            None => 0,
            Some(Node::Int(i)) => i,
            Some(Node::Float(bits)) => {
                let t = f64::from_bits(bits).trunc();
                if !(-9.2e18..9.2e18).contains(&t) {
                    return Err("a time out of range");
                }
                t as i64
            }
            Some(_) => return Err("a time that is not a number"),
        };
        let value = match Self::get(record, k.value) {
            Some(v) => v,
            None => vals.nil(),
        };
        let node = match Self::get(record, k.node).map(|v| vals.node(v)) {
            None | Some(Node::Nil) => NONE,
            Some(Node::Str(s)) => s,
            Some(_) => return Err("a node that is not a string"),
        };
        let error = match Self::get(record, k.error) {
            Some(v) if vals.node(v) != Node::Nil => v,
            _ => NONE,
        };
        let known = [k.index, k.time, k.kind, k.process, k.f, k.value, k.node, k.error];
        for &(key, v) in record {
            if !known.contains(&key) {
                self.cols.extra.push((key, v));
            }
        }
        if let Some(index) = Self::get(record, k.index) {
            let differs = match vals.node(index) {
                Node::Nil => false,
                Node::Int(i) => i != position as i64,
                _ => {
                    let here = vals.int(position as i64);
                    !vals.same_key(index, here)
                }
            };
            if differs {
                let start = *self.cols.extra_start.last().unwrap_or(&0) as usize;
                match self.cols.extra[start..].iter().position(|&(key, _)| key == k.source_index) {
                    Some(at) => self.cols.extra[start + at].1 = index,
                    None => self.cols.extra.push((k.source_index, index)),
                }
            }
        }
        self.push(Op { kind, process, f, time, value, node, error })
    }

    /// One op, validated and paired as `History._validate_and_pair` does. Its extra
    /// fields, if any, are already in `cols.extra`.
    fn push(&mut self, op: Op) -> Result<(), Declined> {
        let Op { kind, process, f, time, value, node, error } = op;
        let position = self.cols.types.len();
        let next = self.proc_ids.len() as u32;
        let pid = *self.proc_ids.entry(process).or_insert(next);
        if pid == next {
            self.cols.procs.push(process);
        }
        let client = matches!(process, Proc::Int(_));
        let opened = self.open.get(&pid).copied();
        let starts = kind == INVOKE || (kind == INFO && !client && opened.is_none());
        self.cols.pair.push(NONE);
        if starts {
            if opened.is_some() {
                return Err("a process invokes while its last op is in flight");
            }
            self.open.insert(pid, position as u32);
        } else {
            let Some(inv) = opened else { return Err("a completion of nothing") };
            if self.cols.f[inv as usize] != f {
                return Err("a completion whose f differs from its invocation's");
            }
            self.cols.pair[inv as usize] = position as u32;
            self.cols.pair[position] = inv;
            self.open.remove(&pid);
        }
        self.cols.types.push(kind);
        self.cols.process.push(pid);
        self.cols.f.push(f);
        self.cols.value.push(value);
        self.cols.time.push(time);
        self.cols.node.push(node);
        self.cols.error.push(error);
        self.cols.extra_start.push(self.cols.extra.len() as u32);
        Ok(())
    }
}

/// Python's `str.strip()` would leave nothing (for ASCII text).
fn blank(line: &[u8]) -> bool {
    line.iter().all(|&c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0x1c..=0x1f))
}

/// The whole file, as Python's text mode gives it: `\r\n` and a lone `\r` become `\n`.
///
/// Read a chunk at a time: a line past `MAX_LINE` stops the read there, so a monster
/// line is never held whole (the Python reader then says what is wrong with it).
fn read_all(path: &str) -> Result<Vec<u8>, Declined> {
    let mut file = File::open(path).map_err(|_| "cannot read the file")?;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 1 << 20];
    let mut run = 0usize; // bytes since the last line break
    loop {
        let n = file.read(&mut chunk).map_err(|_| "cannot read the file")?;
        if n == 0 {
            break;
        }
        for &c in &chunk[..n] {
            run = if c == b'\n' || c == b'\r' { 0 } else { run + 1 };
            if run > MAX_LINE {
                return Err("a line too long");
            }
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    std::str::from_utf8(&buf).map_err(|_| "not UTF-8")?;
    if buf.starts_with("\u{feff}".as_bytes()) {
        return Err("a byte-order mark");
    }
    if buf.contains(&b'\r') {
        let mut out = Vec::with_capacity(buf.len());
        let mut i = 0;
        while i < buf.len() {
            if buf[i] == b'\r' {
                out.push(b'\n');
                i += if buf.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
            } else {
                out.push(buf[i]);
                i += 1;
            }
        }
        buf = out;
    }
    Ok(buf)
}

fn jsonl(path: &str, vals: &mut Values, b: &mut Builder) -> Result<(), Declined> {
    let file = File::open(path).map_err(|_| "cannot read the file")?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line: Vec<u8> = Vec::new();
    let mut record: Vec<(u32, Vid)> = Vec::new();
    let mut first = true;
    loop {
        line.clear();
        // At most MAX_LINE + 1 bytes: a monster line is never held whole.
        let mut bounded = (&mut reader).take(MAX_LINE as u64 + 1);
        if bounded.read_until(b'\n', &mut line).map_err(|_| "cannot read the file")? == 0 {
            return Ok(());
        }
        if line.len() > MAX_LINE {
            return Err("a line too long");
        }
        std::str::from_utf8(&line).map_err(|_| "not UTF-8")?;
        if first && line.starts_with("\u{feff}".as_bytes()) {
            return Err("a byte-order mark");
        }
        first = false;
        // Python's text mode ends a line at a lone \r too: a line holding one is two
        // lines there.
        let body = line.strip_suffix(b"\n").unwrap_or(&line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        if body.contains(&b'\r') {
            return Err("a carriage return inside a line");
        }
        if blank(&line) {
            continue;
        }
        let mut json = Json::new(&line);
        json.object(vals, &mut record)?;
        if !json.at_end() {
            return Err("more than one JSON value on a line");
        }
        dedup(&mut record);
        b.add(vals, &record)?;
    }
}

/// Python's dict: a repeated key keeps its first place and its last value.
fn dedup(record: &mut Vec<(u32, Vid)>) {
    for i in 1..record.len() {
        if let Some(at) = record[..i].iter().position(|&(k, _)| k == record[i].0) {
            record[at].1 = record[i].1;
            record[i].0 = u32::MAX;
        }
    }
    record.retain(|&(k, _)| k != u32::MAX);
}

fn elle_cli_json(path: &str, vals: &mut Values, b: &mut Builder) -> Result<(), Declined> {
    let text = read_all(path)?;
    let mut json = Json::new(&text);
    let all = json.value(vals)?;
    if !json.at_end() {
        return Err("more than one JSON value");
    }
    let Node::List { start, len } = vals.node(all) else { return Err("not an array") };
    let items = vals.kids(start, len).to_vec();
    for item in items {
        let Node::Map { start, len } = vals.node(item) else { return Err("an op that is not an object") };
        let pairs: Vec<(Vid, Vid)> = vals.kids(start, len).chunks_exact(2).map(|kv| (kv[0], kv[1])).collect();
        b.add_keyed(vals, &pairs)?;
    }
    Ok(())
}

fn jepsen_edn(path: &str, vals: &mut Values, b: &mut Builder) -> Result<(), Declined> {
    let text = read_all(path)?;
    Edn::new(&text).records(vals, true, &mut |v, record: Record| b.add_keyed(v, &record))
}

fn porcupine_kv(path: &str, vals: &mut Values, b: &mut Builder) -> Result<(), Declined> {
    let text = read_all(path)?;
    let (key, value) = (b.keys.key, b.keys.value);
    Edn::new(&text).records(vals, false, &mut |v, mut record: Record| {
        // record["value"] = [record.pop("key", None), record.get("value")]
        let name = |v: &Values, k: Vid| match v.node(k) {
            Node::Str(s) => Some(s),
            _ => None,
        };
        let popped = record.iter().position(|&(k, _)| name(v, k) == Some(key)).map(|at| record.remove(at).1);
        let k = match popped {
            Some(k) => k,
            None => v.nil(),
        };
        let at = record.iter().position(|&(k, _)| name(v, k) == Some(value));
        let old = match at {
            Some(at) => record[at].1,
            None => v.nil(),
        };
        let pair = v.list(&[k, old]);
        match at {
            Some(at) => record[at].1 = pair,
            None => {
                let name = v.str_id_value(value);
                record.push((name, pair));
            }
        }
        b.add_keyed(v, &record)
    })
}

/// ASCII whitespace as Python's `\s` sees it.
fn ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0x1c..=0x1f)
}

fn word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The process, type, f and value texts of a Jepsen log line.
type LogLine<'a> = (&'a [u8], &'a [u8], &'a [u8], &'a [u8]);

/// `jepsen\.util\s+-\s+(\S+)\s+:(\w+)\s+:(\w+)\s+(.*?)\s*$`, searched in `line`.
fn porcupine_line(line: &[u8]) -> Option<LogLine<'_>> {
    const NEEDLE: &[u8] = b"jepsen.util";
    let mut from = 0;
    while let Some(at) = line[from..].windows(NEEDLE.len()).position(|w| w == NEEDLE) {
        let start = from + at;
        from = start + 1;
        let mut p = start + NEEDLE.len();
        let run = |p: &mut usize, f: &dyn Fn(u8) -> bool| -> usize {
            let s = *p;
            while *p < line.len() && f(line[*p]) {
                *p += 1;
            }
            *p - s
        };
        if run(&mut p, &ws) == 0 || line.get(p) != Some(&b'-') {
            continue;
        }
        p += 1;
        if run(&mut p, &ws) == 0 {
            continue;
        }
        let process_at = p;
        if run(&mut p, &|c| !ws(c)) == 0 {
            continue;
        }
        let process = &line[process_at..p];
        if run(&mut p, &ws) == 0 || line.get(p) != Some(&b':') {
            continue;
        }
        p += 1;
        let kind_at = p;
        if run(&mut p, &word) == 0 {
            continue;
        }
        let kind = &line[kind_at..p];
        if run(&mut p, &ws) == 0 || line.get(p) != Some(&b':') {
            continue;
        }
        p += 1;
        let f_at = p;
        if run(&mut p, &word) == 0 {
            continue;
        }
        let f = &line[f_at..p];
        if run(&mut p, &ws) == 0 {
            continue;
        }
        let mut end = line.len();
        while end > p && ws(line[end - 1]) {
            end -= 1;
        }
        return Some((process, kind, f, &line[p..end]));
    }
    None
}

fn porcupine_etcd(path: &str, vals: &mut Values, b: &mut Builder) -> Result<(), Declined> {
    let text = read_all(path)?;
    if text.iter().any(|&c| c >= 0x80 || matches!(c, 0x0b | 0x0c | 0x1c..=0x1e)) {
        return Err("characters that split lines differently in Python");
    }
    let keys = [b.keys.process, b.keys.kind, b.keys.f, b.keys.value];
    let mut record: Vec<(u32, Vid)> = Vec::with_capacity(4);
    let mut start = 0;
    while start < text.len() {
        let mut end = start;
        while end < text.len() && text[end] != b'\n' && text[end] != b'\r' {
            end += 1;
        }
        let line = &text[start..end];
        start = if text.get(end) == Some(&b'\r') && text.get(end + 1) == Some(&b'\n') { end + 2 } else { end + 1 };
        if blank(line) {
            continue;
        }
        let (process, kind, f, value) = porcupine_line(line).ok_or("not a Jepsen log line")?;
        let process_text = as_str(process)?;
        let process = if process_text.contains('_') {
            return Err("a process Python's int() reads with underscores");
        } else {
            let unsigned = process_text.strip_prefix(['+', '-']).unwrap_or(process_text);
            if !unsigned.is_empty() && unsigned.bytes().all(|c| c.is_ascii_digit()) {
                vals.int(process_text.parse::<i64>().map_err(|_| "a process beyond 64 bits")?)
            } else {
                vals.str_value(process_text.trim_start_matches(':'))
            }
        };
        let timed_out = value == b":timed-out";
        let value = if value.is_empty() || timed_out {
            vals.nil()
        } else {
            Edn::new(value).first(vals)?.ok_or("a value with no form")?
        };
        let kind = if kind == b"fail" && timed_out { "info" } else { as_str(kind)? };
        let kind = vals.str_value(kind);
        let f = vals.str_value(as_str(f)?);
        record.clear();
        record.extend(keys.iter().copied().zip([process, kind, f, value]));
        b.add(vals, &record)?;
    }
    Ok(())
}

fn as_str(b: &[u8]) -> Result<&str, Declined> {
    std::str::from_utf8(b).map_err(|_| "not UTF-8")
}

/// Read `path` in `format` (a name from `labrys.history.FORMATS`), or say why not.
pub fn read(path: &str, format: &str) -> Result<Columns, Declined> {
    let mut vals = Values::new();
    let mut b = Builder::new(&mut vals);
    match format {
        "jsonl" => jsonl(path, &mut vals, &mut b)?,
        "jepsen-edn" => jepsen_edn(path, &mut vals, &mut b)?,
        "elle-cli-json" => elle_cli_json(path, &mut vals, &mut b)?,
        "porcupine-etcd" => porcupine_etcd(path, &mut vals, &mut b)?,
        "porcupine-kv" => porcupine_kv(path, &mut vals, &mut b)?,
        _ => return Err("an unknown format"),
    }
    let mut cols = b.cols;
    cols.vals = vals;
    Ok(cols)
}

