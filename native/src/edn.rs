//! EDN, read exactly as `labrys/history/_edn.py` reads it, into `Values`.
//!
//! That module is the reference, quirks included: keywords and symbols become strings
//! without the colon, sets become lists (sorted when Python could sort them), a tagged
//! literal reads as the value it tags, ratios become floats, and `#_` discards the next
//! value to complete *anywhere*, one global count, as the Python reader does. What this
//! reader does not reproduce exactly (characters outside ASCII between forms, map keys
//! that are collections, sets Python would sort in a way not modelled here, lone
//! surrogates, very deep nesting) is declined, and the caller reads the file with the
//! Python reader instead.
//!
//! Ops come out as *records*: the maps at the top level, or directly inside a top-level
//! vector, list or set (Jepsen writes a history either way). Their key/value pairs go
//! to a callback without being interned as maps, since no two ops are alike.

use crate::json::{Declined, MAX_DEPTH, MAX_DIGITS};
use crate::value::{Node, Values, Vid};

#[derive(Clone, Copy, PartialEq)]
enum Open {
    List,
    Set,
    Map,
}

struct Frame {
    open: Open,
    /// The opening bracket: `[` and `(` both make lists, but each closes its own.
    bracket: u8,
    mark: usize,
    /// A map that is an op record.
    record: bool,
    /// A top-level collection of op records.
    records: bool,
}

pub type Record = Vec<(Vid, Vid)>;

pub struct Edn<'a> {
    b: &'a [u8],
    pos: usize,
    discard: u32,
    /// The records of a top-level collection not yet closed: given only when it closes,
    /// and dropped if `#_` discards it.
    pending: Vec<Record>,
    frames: Vec<Frame>,
    kids: Vec<Vid>,
    text: String,
}

#[inline]
fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0x1c..=0x1f | b',')
}

/// Bytes that end an atom: `[^\s,\[\](){}"\\;]` is what an atom may hold.
#[inline]
fn ends_atom(c: u8) -> bool {
    is_ws(c) || matches!(c, b'[' | b']' | b'(' | b')' | b'{' | b'}' | b'"' | b'\\' | b';')
}

/// What a completed value is, for the code that places it.
enum Done {
    Value(Vid),
    Record(Record),
    /// A top-level collection of records closed (its records were already given).
    Records,
}

impl<'a> Edn<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Edn { b, pos: 0, discard: 0, pending: Vec::new(), frames: Vec::new(), kids: Vec::new(), text: String::new() }
    }

    /// Every op record in the text, in order, to `each`.
    ///
    /// `collections`: whether a top-level vector, list or set holds records (Jepsen's
    /// EDN) or is an error (Porcupine's kv logs, one map per line).
    pub fn records(
        &mut self,
        vals: &mut Values,
        collections: bool,
        each: &mut dyn FnMut(&mut Values, Record) -> Result<(), Declined>,
    ) -> Result<(), Declined> {
        while let Some(done) = self.next(vals, true, collections)? {
            match done {
                Done::Value(_) => return Err("a top-level form that is not an op"),
                Done::Record(r) => {
                    if self.frames.is_empty() {
                        each(vals, r)?;
                    } else {
                        self.pending.push(r);
                    }
                }
                Done::Records => {
                    for r in std::mem::take(&mut self.pending) {
                        each(vals, r)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The first form in the text (the rest is not read, as Python's reader never gets
    /// to it), or None if there is none.
    pub fn first(&mut self, vals: &mut Values) -> Result<Option<Vid>, Declined> {
        match self.next(vals, false, false)? {
            Some(Done::Value(v)) => Ok(Some(v)),
            Some(_) => Err("unexpected record"),
            None => Ok(None),
        }
    }

    /// The next completed thing the caller must see: a top-level value, a record, or
    /// the end of a top-level collection of records. None at the end of the text.
    fn next(&mut self, vals: &mut Values, records: bool, collections: bool) -> Result<Option<Done>, Declined> {
        loop {
            let Some(&c) = self.b.get(self.pos) else {
                if !self.frames.is_empty() {
                    return Err("the text ends inside a collection");
                }
                return Ok(None);
            };
            if c >= 0x80 {
                return Err("characters outside ASCII between forms");
            }
            if is_ws(c) {
                self.pos += 1;
                continue;
            }
            let done: Done = match c {
                b';' => {
                    while self.b.get(self.pos).is_some_and(|&c| c != b'\n') {
                        self.pos += 1;
                    }
                    continue;
                }
                b'"' => {
                    let s = self.string()?;
                    Done::Value(vals.str_value(&s))
                }
                b'[' | b'(' | b'{' => {
                    self.pos += 1;
                    let open = if c == b'{' { Open::Map } else { Open::List };
                    self.push(open, c, records, collections)?;
                    continue;
                }
                b'#' if self.b.get(self.pos + 1) == Some(&b'{') => {
                    self.pos += 2;
                    self.push(Open::Set, b'{', records, collections)?;
                    continue;
                }
                b'#' if self.b.get(self.pos + 1) == Some(&b'_') => {
                    self.pos += 2;
                    self.discard += 1;
                    continue;
                }
                b'#' if self.b.get(self.pos + 1).is_some_and(u8::is_ascii_alphabetic) => {
                    // A tag: `#[A-Za-z][^\s,\[\](){}"]*`, skipped.
                    self.pos += 2;
                    while let Some(&c) = self.b.get(self.pos) {
                        if c >= 0x80 {
                            return Err("characters outside ASCII in a tag");
                        }
                        if is_ws(c) || matches!(c, b'[' | b']' | b'(' | b')' | b'{' | b'}' | b'"') {
                            break;
                        }
                        self.pos += 1;
                    }
                    continue;
                }
                b']' | b')' | b'}' => {
                    self.pos += 1;
                    self.close(c, vals)?
                }
                b'\\' => Done::Value(self.character(vals)?),
                _ => {
                    let start = self.pos;
                    while self.b.get(self.pos).is_some_and(|&c| !ends_atom(c)) {
                        if self.b[self.pos] >= 0x80 {
                            return Err("characters outside ASCII in an atom");
                        }
                        self.pos += 1;
                    }
                    let text = std::str::from_utf8(&self.b[start..self.pos]).map_err(|_| "not UTF-8")?;
                    Done::Value(atom(vals, text)?)
                }
            };
            if self.discard > 0 {
                self.discard -= 1;
                if matches!(done, Done::Records) {
                    self.pending.clear();
                }
                continue;
            }
            match done {
                Done::Value(v) => match self.frames.last() {
                    None => return Ok(Some(Done::Value(v))),
                    Some(f) if f.records => return Err("a record that is not a map"),
                    Some(_) => self.kids.push(v),
                },
                Done::Record(r) => return Ok(Some(Done::Record(r))),
                Done::Records => return Ok(Some(Done::Records)),
            }
        }
    }

    fn push(&mut self, open: Open, bracket: u8, records: bool, collections: bool) -> Result<(), Declined> {
        if self.frames.len() >= MAX_DEPTH {
            return Err("nested too deep");
        }
        let (record, of_records) = match self.frames.last() {
            None => (records && open == Open::Map, records && collections && open != Open::Map),
            Some(parent) => (parent.records && open == Open::Map, false),
        };
        if records && self.frames.is_empty() && open != Open::Map && !collections {
            return Err("a top-level form that is not a map");
        }
        self.frames.push(Frame { open, bracket, mark: self.kids.len(), record, records: of_records });
        Ok(())
    }

    fn close(&mut self, c: u8, vals: &mut Values) -> Result<Done, Declined> {
        let frame = self.frames.pop().ok_or("unexpected closing bracket")?;
        let expected = match frame.bracket {
            b'[' => b']',
            b'(' => b')',
            _ => b'}',
        };
        if c != expected {
            return Err("mismatched brackets");
        }
        let items: Vec<Vid> = self.kids.split_off(frame.mark);
        if frame.records {
            return Ok(Done::Records);
        }
        Ok(match frame.open {
            Open::List => Done::Value(vals.list(&items)),
            Open::Set => Done::Value(sorted_set(vals, items)?),
            Open::Map => {
                if items.len() % 2 == 1 {
                    return Err("a map with an odd number of forms");
                }
                for k in items.iter().step_by(2) {
                    if matches!(vals.node(*k), Node::List { .. } | Node::Map { .. }) {
                        return Err("a map key that is a collection");
                    }
                }
                if frame.record {
                    let mut pairs: Record = Vec::with_capacity(items.len() / 2);
                    for kv in items.chunks_exact(2) {
                        match pairs.iter().position(|&(k, _)| vals.same_key(k, kv[0])) {
                            Some(at) => pairs[at].1 = kv[1],
                            None => pairs.push((kv[0], kv[1])),
                        }
                    }
                    Done::Record(pairs)
                } else {
                    Done::Value(vals.map(&items))
                }
            }
        })
    }

    /// A string token at `pos` (on its quote), unescaped as `_edn.py` does: `\uXXXX`,
    /// the escapes of `_STRING_ESCAPES`, and any other escaped character as itself.
    fn string(&mut self) -> Result<String, Declined> {
        self.pos += 1;
        self.text.clear();
        loop {
            let start = self.pos;
            while self.b.get(self.pos).is_some_and(|&c| c != b'"' && c != b'\\') {
                self.pos += 1;
            }
            self.text.push_str(std::str::from_utf8(&self.b[start..self.pos]).map_err(|_| "not UTF-8")?);
            match self.b.get(self.pos) {
                None => return Err("unterminated string"),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(std::mem::take(&mut self.text));
                }
                Some(_) => {
                    self.pos += 1;
                    let rest = std::str::from_utf8(&self.b[self.pos..]).map_err(|_| "not UTF-8")?;
                    let Some(e) = rest.chars().next() else { return Err("unterminated string") };
                    if e == 'u' && hex4(&self.b[self.pos + 1..]).is_some() {
                        let code = hex4(&self.b[self.pos + 1..]).unwrap_or(0);
                        self.text.push(char::from_u32(code).ok_or("lone surrogate")?);
                        self.pos += 5;
                        continue;
                    }
                    self.text.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        other => other,
                    });
                    self.pos += e.len_utf8();
                }
            }
        }
    }

    /// A character token at `pos` (on its backslash): `\newline`, `\space`, `\tab`,
    /// `\return`, `\uXXXX`, or any one character.
    fn character(&mut self, vals: &mut Values) -> Result<Vid, Declined> {
        self.pos += 1;
        let rest = &self.b[self.pos..];
        for (name, ch) in [("newline", "\n"), ("space", " "), ("tab", "\t"), ("return", "\r")] {
            if rest.starts_with(name.as_bytes()) {
                self.pos += name.len();
                return Ok(vals.str_value(ch));
            }
        }
        if rest.first() == Some(&b'u') {
            if let Some(code) = hex4(&rest[1..]) {
                self.pos += 5;
                let ch = char::from_u32(code).ok_or("lone surrogate")?;
                return Ok(vals.str_value(ch.encode_utf8(&mut [0; 4])));
            }
        }
        let text = std::str::from_utf8(rest).map_err(|_| "not UTF-8")?;
        let ch = text.chars().next().ok_or("a backslash at the end of the text")?;
        self.pos += ch.len_utf8();
        Ok(vals.str_value(ch.encode_utf8(&mut [0; 4])))
    }
}

fn hex4(b: &[u8]) -> Option<u32> {
    let digits = b.get(..4)?;
    let mut v = 0;
    for &d in digits {
        v = v * 16 + (d as char).to_digit(16)?;
    }
    Some(v)
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

fn unsigned(s: &str) -> &str {
    s.strip_prefix(['+', '-']).unwrap_or(s)
}

/// `_edn._atom`: nil, booleans, keywords, integers (`N` allowed), floats (`M` allowed),
/// ratios, `##Inf`/`##-Inf`/`##NaN`, and any other text as a symbol (a string).
fn atom(vals: &mut Values, text: &str) -> Result<Vid, Declined> {
    match text {
        "nil" => return Ok(vals.nil()),
        "true" => return Ok(vals.boolean(true)),
        "false" => return Ok(vals.boolean(false)),
        "##Inf" => return Ok(vals.float(f64::INFINITY)),
        "##-Inf" => return Ok(vals.float(f64::NEG_INFINITY)),
        "##NaN" => return Ok(vals.float(f64::NAN)),
        _ => {}
    }
    if let Some(keyword) = text.strip_prefix(':') {
        return Ok(vals.str_value(keyword));
    }
    let int = text.strip_suffix('N').unwrap_or(text);
    if digits(unsigned(int)) {
        let clean = int.strip_prefix('+').unwrap_or(int);
        return Ok(match clean.parse::<i64>() {
            Ok(i) => vals.int(i),
            Err(_) => {
                // Python's int() of the text, normalised: no sign for positives, no
                // leading zeros.
                let negative = clean.starts_with('-');
                let body = unsigned(clean).trim_start_matches('0');
                if clean.len() > MAX_DIGITS {
                    return Err("an integer of too many digits");
                }
                if body.is_empty() {
                    vals.int(0)
                } else if negative {
                    vals.big(&format!("-{body}"))
                } else {
                    vals.big(body)
                }
            }
        });
    }
    let float = text.strip_suffix('M').unwrap_or(text);
    if is_float(unsigned(float)) {
        return float.parse::<f64>().map(|f| vals.float(f)).map_err(|_| "bad number");
    }
    if let Some((num, den)) = text.split_once('/') {
        if digits(unsigned(num)) && digits(den) {
            let (n, d) = (num.parse::<i64>().ok(), den.parse::<i64>().ok());
            const EXACT: i64 = 1 << 53;
            return match (n, d) {
                (Some(n), Some(d)) if d != 0 && n.abs() <= EXACT && d <= EXACT => Ok(vals.float(n as f64 / d as f64)),
                _ => Err("a ratio this reader does not model"),
            };
        }
    }
    Ok(vals.str_value(text))
}

/// `\d+(\.\d*)?([eE][+-]?\d+)?`, the unsigned part of `_FLOAT`.
fn is_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let digits_at = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == digits_at {
            return false;
        }
    }
    i == b.len()
}

/// `sorted(items)`, or the items as they are where Python's sort raises TypeError
/// (several None); declined where its outcome is not modelled (mixed kinds).
fn sorted_set(vals: &mut Values, mut items: Vec<Vid>) -> Result<Vid, Declined> {
    if items.len() > 1 {
        let nodes: Vec<Node> = items.iter().map(|&v| vals.node(v)).collect();
        if nodes.iter().all(|n| matches!(n, Node::Str(_))) {
            items.sort_by(|&a, &b| vals.text(a).cmp(&vals.text(b)));
        } else if nodes.iter().all(|n| matches!(n, Node::Int(_) | Node::Bool(_))) {
            let key = |v: Vid| match vals.node(v) {
                Node::Int(i) => i,
                Node::Bool(b) => b as i64,
                _ => 0,
            };
            items.sort_by_key(|&v| key(v));
        } else if nodes.iter().all(|n| match n {
            Node::Float(bits) => !f64::from_bits(*bits).is_nan(),
            _ => false,
        }) {
            let key = |v: Vid| match vals.node(v) {
                Node::Float(bits) => f64::from_bits(bits),
                _ => 0.0,
            };
            items.sort_by(|&a, &b| key(a).partial_cmp(&key(b)).unwrap_or(std::cmp::Ordering::Equal));
        } else if !nodes.iter().all(|n| matches!(n, Node::Nil)) {
            return Err("a set this reader does not sort as Python would");
        }
    }
    Ok(vals.list(&items))
}
