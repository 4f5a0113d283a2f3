//! The built-in models, encoded as integers.
//!
//! Every built-in model of labrys is a vector of *slots* changed by *micro-operations*:
//! a register is one slot read, written and compared-and-set; a key of a kv store is one
//! slot whose values are strings that `append` concatenates; a multi-register is one
//! slot per key, and its transactions are several micro-operations applied in order; a
//! mutex is one slot holding 0 (free) or 1 (held), acquired and released by cas; a
//! counter is one slot of plain integers that `add` increments. One operation of the
//! history is a run of micro-operations applied atomically: all succeed or the
//! operation cannot take effect.
//!
//! Values are integers chosen by the Python side: for registers and kv they are ids of
//! distinct values (equal ids iff equal values), so comparing ids is comparing values;
//! for counters they are the numbers themselves. Strings appended to are the one place
//! where new values appear during the search: the concatenation of two strings is
//! interned, so the same string always gets the same id, whether it came from the
//! history or from concatenating.
//!
//! A state with one slot is that slot's value; a state with several is an id into an
//! interner of slot vectors. Either way the search sees a state as one `u64`, which is
//! what the memo hashes.

use hashbrown::{HashMap, HashTable};

/// Micro-operation kinds, as the Python side encodes them.
pub const READ: i64 = 0;
pub const WRITE: i64 = 1;
pub const CAS: i64 = 2;
pub const APPEND: i64 = 3;
pub const ADD: i64 = 4;

/// One micro-operation on a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Micro {
    pub kind: i64,
    pub slot: usize,
    pub a: i64,
    pub b: i64,
}

/// Strings for `append`: the texts of value ids, and concatenations made so far.
///
/// Every string lives in one arena (`bytes`), so that a new concatenation costs one
/// copy into it and no allocation of its own; `by_text` finds a string's id by content,
/// so that equal strings always share one id, however they were made. A string's hash
/// is polynomial, `h(a + b) = h(a) * P^len(b) + h(b)`, so the hash of a concatenation
/// comes from its halves' without reading either.
pub struct Texts {
    arena: Vec<u8>,
    /// Each id's text, as a `Span`; `len == NO_TEXT` for a value that is not a string.
    spans: Vec<Span>,
    by_text: HashTable<i64>,
    concat: HashMap<(i64, i64), i64>,
    /// The id of nil, if the history has one: appending to nil gives the appended value.
    none_id: i64,
    pub bytes: usize,
}

const NO_TEXT: usize = usize::MAX;
const P: u64 = 0x100_0000_01b3;

#[derive(Clone, Copy)]
struct Span {
    start: usize,
    len: usize,
    /// The polynomial hash of the text, and `P^len`.
    hash: u64,
    power: u64,
}

/// The polynomial hash of a text, and `P^len`.
fn poly(text: &[u8]) -> (u64, u64) {
    text.iter().fold((0u64, 1u64), |(h, p), &b| (h.wrapping_mul(P).wrapping_add(b as u64 + 1), p.wrapping_mul(P)))
}

/// A polynomial hash mixed so that every bit of it counts (the table uses the low bits
/// to place and the high bits to compare).
fn mixed(h: u64) -> u64 {
    let mut x = h ^ (h >> 31);
    x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^ (x >> 29)
}

impl Texts {
    pub fn new(texts: Vec<Option<String>>, none_id: i64) -> Self {
        let mut t = Texts {
            arena: Vec::new(),
            spans: Vec::with_capacity(texts.len()),
            by_text: HashTable::new(),
            concat: HashMap::new(),
            none_id,
            bytes: 0,
        };
        for (id, text) in texts.into_iter().enumerate() {
            match text {
                Some(text) => {
                    let start = t.arena.len();
                    t.arena.extend_from_slice(text.as_bytes());
                    let (hash, power) = poly(text.as_bytes());
                    let span = Span { start, len: text.len(), hash, power };
                    t.spans.push(span);
                    if t.find(span).is_none() {
                        t.index(id as i64);
                    }
                }
                None => t.spans.push(Span { start: 0, len: NO_TEXT, hash: 0, power: 1 }),
            }
        }
        t.bytes = t.arena.capacity() + t.spans.capacity() * 32;
        t
    }

    fn span(&self, id: i64) -> Option<Span> {
        let span = *self.spans.get(usize::try_from(id).ok()?)?;
        (span.len != NO_TEXT).then_some(span)
    }

    fn bytes_of(&self, span: Span) -> &[u8] {
        &self.arena[span.start..span.start + span.len]
    }

    /// The id of an earlier string with the text of `span`.
    fn find(&self, span: Span) -> Option<i64> {
        let text = self.bytes_of(span);
        self.by_text
            .find(mixed(span.hash), |&id| {
                let other = self.spans[id as usize];
                other.hash == span.hash && other.len == span.len && self.bytes_of(other) == text
            })
            .copied()
    }

    fn index(&mut self, id: i64) {
        let hash = mixed(self.spans[id as usize].hash);
        let mut table = std::mem::take(&mut self.by_text);
        table.insert_unique(hash, id, |&i| mixed(self.spans[i as usize].hash));
        self.by_text = table;
    }

    /// The id of `held` with `added` appended, or an error naming why it cannot be done.
    fn append(&mut self, held: i64, added: i64) -> Result<i64, String> {
        if held == self.none_id {
            return Ok(added);
        }
        if let Some(&id) = self.concat.get(&(held, added)) {
            return Ok(id);
        }
        let (Some(l), Some(r)) = (self.span(held), self.span(added)) else {
            return Err("append needs string values".to_string());
        };
        // Build the concatenation at the end of the arena; keep it only if it is new.
        let start = self.arena.len();
        self.arena.extend_from_within(l.start..l.start + l.len);
        self.arena.extend_from_within(r.start..r.start + r.len);
        let span = Span {
            start,
            len: l.len + r.len,
            hash: l.hash.wrapping_mul(r.power).wrapping_add(r.hash),
            power: l.power.wrapping_mul(r.power),
        };
        let id = match self.find(span) {
            Some(id) => {
                self.arena.truncate(start);
                id
            }
            None => {
                let id = self.spans.len() as i64;
                self.spans.push(span);
                self.index(id);
                self.bytes += span.len + 56;
                id
            }
        };
        self.concat.insert((held, added), id);
        self.bytes += 32;
        Ok(id)
    }

    fn text(&self, id: i64) -> Option<&str> {
        // The arena holds only whole UTF-8 strings and their concatenations.
        std::str::from_utf8(self.bytes_of(self.span(id)?)).ok()
    }
}

/// A model instance for one search: operations as runs of micro-operations, plus the
/// interners that give states their ids.
pub struct Machine {
    micros: Vec<Micro>,
    /// Operation `i`'s micro-operations are `micros[starts[i]..starts[i + 1]]`.
    starts: Vec<usize>,
    slots: usize,
    texts: Option<Texts>,
    vectors: Vec<Box<[i64]>>,
    vector_ids: HashMap<Box<[i64]>, u64>,
    scratch: Vec<i64>,
    pub init: u64,
    vector_bytes: usize,
}

impl Machine {
    pub fn new(
        micros: Vec<Micro>,
        starts: Vec<usize>,
        init: Vec<i64>,
        texts: Option<Texts>,
    ) -> Result<Self, String> {
        let slots = init.len();
        if slots == 0 {
            return Err("a model needs at least one slot".into());
        }
        if starts.is_empty() || *starts.last().unwrap() != micros.len() {
            return Err("operation starts do not cover the micro-operations".into());
        }
        for m in &micros {
            if m.slot >= slots || !(READ..=ADD).contains(&m.kind) {
                return Err(format!("bad micro-operation {m:?} for {slots} slots"));
            }
            if m.kind == APPEND && texts.is_none() {
                return Err("append needs the string table".into());
            }
        }
        let mut machine = Machine {
            micros,
            starts,
            slots,
            texts,
            vectors: Vec::new(),
            vector_ids: HashMap::new(),
            scratch: Vec::with_capacity(slots),
            init: 0,
            vector_bytes: 0,
        };
        machine.init = if slots == 1 { init[0] as u64 } else { machine.intern(init.into_boxed_slice()) };
        Ok(machine)
    }

    fn intern(&mut self, v: Box<[i64]>) -> u64 {
        if let Some(&id) = self.vector_ids.get(&v) {
            return id;
        }
        let id = self.vectors.len() as u64;
        self.vector_bytes += 2 * (v.len() * 8 + 16) + 24;
        self.vectors.push(v.clone());
        self.vector_ids.insert(v, id);
        id
    }

    /// Operation `op`'s micro-operations: equal slices mean identical effects.
    pub fn micros_of(&self, op: usize) -> &[Micro] {
        &self.micros[self.starts[op]..self.starts[op + 1]]
    }

    /// The string a one-slot state holds, if it is one (kv values, appended to).
    pub fn text_of(&self, state: u64) -> Option<&str> {
        self.texts.as_ref()?.text(state as i64)
    }

    /// Bytes held by the interners, for the memory budget.
    pub fn bytes(&self) -> usize {
        self.vector_bytes + self.texts.as_ref().map_or(0, |t| t.bytes)
    }

    /// The state after operation `op` in `state`, None if it cannot take effect there,
    /// or an error for an operation the model cannot apply at all.
    #[inline]
    pub fn step(&mut self, state: u64, op: usize) -> Result<Option<u64>, String> {
        let (lo, hi) = (self.starts[op], self.starts[op + 1]);
        if self.slots == 1 {
            let mut value = state as i64;
            for k in lo..hi {
                let m = self.micros[k];
                match self.apply(value, m)? {
                    Some(v) => value = v,
                    None => return Ok(None),
                }
            }
            return Ok(Some(value as u64));
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend_from_slice(&self.vectors[state as usize]);
        for k in lo..hi {
            let m = self.micros[k];
            match self.apply(scratch[m.slot], m) {
                Ok(Some(v)) => scratch[m.slot] = v,
                Ok(None) => {
                    self.scratch = scratch;
                    return Ok(None);
                }
                Err(e) => {
                    self.scratch = scratch;
                    return Err(e);
                }
            }
        }
        let id = match self.vector_ids.get(scratch.as_slice()) {
            Some(&id) => id,
            None => self.intern(scratch.clone().into_boxed_slice()),
        };
        self.scratch = scratch;
        Ok(Some(id))
    }

    #[inline]
    fn apply(&mut self, held: i64, m: Micro) -> Result<Option<i64>, String> {
        Ok(match m.kind {
            READ => (held == m.a).then_some(held),
            WRITE => Some(m.a),
            CAS => (held == m.a).then_some(m.b),
            APPEND => Some(self.texts.as_mut().expect("checked in new").append(held, m.a)?),
            _ => Some(held.checked_add(m.a).ok_or("counter overflow")?),
        })
    }
}
