//! The values of a history, each stored once.
//!
//! A history of a million operations repeats a few values endlessly (`"read"`, `nil`,
//! small integers, key names), so every value read from a file is *interned*: built
//! bottom-up (a list from its elements' ids) and looked up by content, giving one
//! `Vid` per distinct value. Strings have their own table. Identity here is exact, so
//! that an op turned back into Python gets exactly what Python's own reader makes:
//! `true`, `1` and `1.0` are three values.
//!
//! Checking needs Python's equality instead, under which `True == 1 == 1.0` and a JSON
//! list equals the tuple it is frozen into. `Values::class` maps a value to its
//! *equality class*: numbers that are whole and fit in 64 bits become integers, lists
//! become tuples of classes. Values whose equality this does not model (maps, integers
//! beyond 64 bits, NaN) have no class, and a check that needs one hands the history to
//! the Python path instead: never an approximate answer.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};

pub type Vid = u32;

/// No value (an absent field).
pub const NONE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    Nil,
    Bool(bool),
    Int(i64),
    /// An integer beyond 64 bits, by the id of its decimal text.
    Big(u32),
    /// By its bits, so that equal bits are the same value.
    Float(u64),
    Str(u32),
    List { start: u32, len: u32 },
    /// Keys and values alternate in `kids`.
    Map { start: u32, len: u32 },
}

/// An equality class: what Python's `==` (after freezing lists into tuples) compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Nil,
    Int(i64),
    Float(u64),
    Str(u32),
    Tuple { start: u32, len: u32 },
}

const UNSET: u32 = u32::MAX;
const NO_CLASS: u32 = u32::MAX - 1;

pub struct Values {
    nodes: Vec<Node>,
    kids: Vec<u32>,
    table: HashTable<u32>,
    strings: Vec<Box<str>>,
    string_table: HashTable<u32>,
    hasher: DefaultHashBuilder,
    class_of: Vec<u32>,
    classes: Vec<Class>,
    class_kids: Vec<u32>,
    class_table: HashTable<u32>,
    /// The first value seen of each class.
    pub class_value: Vec<Vid>,
}

impl Values {
    pub fn new() -> Self {
        Values {
            nodes: Vec::new(),
            kids: Vec::new(),
            table: HashTable::new(),
            strings: Vec::new(),
            string_table: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            class_of: Vec::new(),
            classes: Vec::new(),
            class_kids: Vec::new(),
            class_table: HashTable::new(),
            class_value: Vec::new(),
        }
    }

    pub fn node(&self, v: Vid) -> Node {
        self.nodes[v as usize]
    }

    pub fn kids(&self, start: u32, len: u32) -> &[u32] {
        &self.kids[start as usize..(start + len) as usize]
    }

    pub fn string_count(&self) -> usize {
        self.strings.len()
    }

    pub fn string(&self, id: u32) -> &str {
        &self.strings[id as usize]
    }

    /// The text of a string value.
    pub fn text(&self, v: Vid) -> Option<&str> {
        match self.node(v) {
            Node::Str(s) => Some(self.string(s)),
            _ => None,
        }
    }

    pub fn intern_str(&mut self, s: &str) -> u32 {
        let hash = self.hasher.hash_one(s);
        let strings = &self.strings;
        if let Some(&id) = self.string_table.find(hash, |&id| &*strings[id as usize] == s) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(s.into());
        let (strings, hasher) = (&self.strings, &self.hasher);
        self.string_table.insert_unique(hash, id, |&id| hasher.hash_one(&*strings[id as usize]));
        id
    }

    fn node_hash(&self, node: &Node, kids: &[u32]) -> u64 {
        match node {
            Node::List { .. } => self.hasher.hash_one((6u8, kids)),
            Node::Map { .. } => self.hasher.hash_one((7u8, kids)),
            Node::Nil => self.hasher.hash_one(0u8),
            Node::Bool(b) => self.hasher.hash_one((1u8, *b)),
            Node::Int(i) => self.hasher.hash_one((2u8, *i)),
            Node::Big(s) => self.hasher.hash_one((3u8, *s)),
            Node::Float(f) => self.hasher.hash_one((4u8, *f)),
            Node::Str(s) => self.hasher.hash_one((5u8, *s)),
        }
    }

    fn same(&self, id: u32, node: &Node, kids: &[u32]) -> bool {
        let have = self.nodes[id as usize];
        match (have, node) {
            (Node::List { start, len }, Node::List { .. }) | (Node::Map { start, len }, Node::Map { .. }) => {
                self.kids(start, len) == kids
            }
            (a, b) => a == *b,
        }
    }

    fn intern(&mut self, node: Node, kids: &[u32]) -> Vid {
        let hash = self.node_hash(&node, kids);
        if let Some(&id) = self.table.find(hash, |&id| self.same(id, &node, kids)) {
            return id;
        }
        let node = match node {
            Node::List { .. } | Node::Map { .. } => {
                let start = self.kids.len() as u32;
                self.kids.extend_from_slice(kids);
                if matches!(node, Node::List { .. }) {
                    Node::List { start, len: kids.len() as u32 }
                } else {
                    Node::Map { start, len: kids.len() as u32 }
                }
            }
            other => other,
        };
        let id = self.nodes.len() as u32;
        self.nodes.push(node);
        self.class_of.push(UNSET);
        // Growing the table needs every entry's hash: computed from the nodes, which the
        // table does not own, so the table is moved out while the closure reads them.
        let mut table = std::mem::take(&mut self.table);
        table.insert_unique(hash, id, |&i| self.hash_of(i));
        self.table = table;
        id
    }

    fn hash_of(&self, id: u32) -> u64 {
        let n = self.nodes[id as usize];
        match n {
            Node::List { start, len } | Node::Map { start, len } => self.node_hash(&n, self.kids(start, len)),
            _ => self.node_hash(&n, &[]),
        }
    }

    pub fn nil(&mut self) -> Vid {
        self.intern(Node::Nil, &[])
    }
    pub fn boolean(&mut self, b: bool) -> Vid {
        self.intern(Node::Bool(b), &[])
    }
    pub fn int(&mut self, i: i64) -> Vid {
        self.intern(Node::Int(i), &[])
    }
    pub fn float(&mut self, f: f64) -> Vid {
        self.intern(Node::Float(f.to_bits()), &[])
    }
    pub fn big(&mut self, digits: &str) -> Vid {
        let s = self.intern_str(digits);
        self.intern(Node::Big(s), &[])
    }
    pub fn str_value(&mut self, s: &str) -> Vid {
        let id = self.intern_str(s);
        self.intern(Node::Str(id), &[])
    }
    pub fn str_id_value(&mut self, id: u32) -> Vid {
        self.intern(Node::Str(id), &[])
    }
    pub fn list(&mut self, items: &[Vid]) -> Vid {
        self.intern(Node::List { start: 0, len: 0 }, items)
    }
    /// A map from alternating keys and values; a repeated key keeps its first place and
    /// its last value, as Python's dict does.
    pub fn map(&mut self, pairs: &[Vid]) -> Vid {
        let mut out: Vec<Vid> = Vec::with_capacity(pairs.len());
        for kv in pairs.chunks_exact(2) {
            match out.chunks_exact(2).position(|p| self.same_key(p[0], kv[0])) {
                Some(at) => out[2 * at + 1] = kv[1],
                None => out.extend_from_slice(kv),
            }
        }
        self.intern(Node::Map { start: 0, len: 0 }, &out)
    }

    /// Whether two map keys are one key to Python (equal classes, or the same value).
    pub fn same_key(&mut self, a: Vid, b: Vid) -> bool {
        if a == b {
            return true;
        }
        match (self.class(a), self.class(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        }
    }

    /// The equality class of a value, or None when its equality is not modelled.
    pub fn class(&mut self, v: Vid) -> Option<u32> {
        match self.class_of[v as usize] {
            NO_CLASS => return None,
            UNSET => {}
            c => return Some(c),
        }
        let class = match self.node(v) {
            Node::Nil => Some(Class::Nil),
            Node::Bool(b) => Some(Class::Int(b as i64)),
            Node::Int(i) => Some(Class::Int(i)),
            Node::Big(_) | Node::Map { .. } => None,
            Node::Float(bits) => {
                let f = f64::from_bits(bits);
                if f.is_nan() {
                    None
                } else if f.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
                    Some(Class::Int(f as i64))
                } else {
                    Some(Class::Float(bits))
                }
            }
            Node::Str(s) => Some(Class::Str(s)),
            Node::List { start, len } => {
                let items: Vec<u32> = self.kids(start, len).to_vec();
                let mut classes = Vec::with_capacity(items.len());
                let mut ok = true;
                for item in items {
                    match self.class(item) {
                        Some(c) => classes.push(c),
                        None => {
                            ok = false;
                            break;
                        }
                    }
                }
                if ok {
                    let start = self.class_kids.len() as u32;
                    // Provisional: only kept if this tuple class is new.
                    self.class_kids.extend_from_slice(&classes);
                    Some(Class::Tuple { start, len: classes.len() as u32 })
                } else {
                    None
                }
            }
        };
        let Some(class) = class else {
            self.class_of[v as usize] = NO_CLASS;
            return None;
        };
        let id = self.intern_class(class, v);
        self.class_of[v as usize] = id;
        Some(id)
    }

    fn class_items(&self, c: Class) -> &[u32] {
        match c {
            Class::Tuple { start, len } => &self.class_kids[start as usize..(start + len) as usize],
            _ => &[],
        }
    }

    fn class_hash(&self, c: Class) -> u64 {
        match c {
            Class::Tuple { .. } => self.hasher.hash_one((4u8, self.class_items(c))),
            Class::Nil => self.hasher.hash_one(0u8),
            Class::Int(i) => self.hasher.hash_one((1u8, i)),
            Class::Float(f) => self.hasher.hash_one((2u8, f)),
            Class::Str(s) => self.hasher.hash_one((3u8, s)),
        }
    }

    fn intern_class(&mut self, class: Class, v: Vid) -> u32 {
        let hash = self.class_hash(class);
        let found = self.class_table.find(hash, |&id| {
            let have = self.classes[id as usize];
            match (have, class) {
                (Class::Tuple { .. }, Class::Tuple { .. }) => self.class_items(have) == self.class_items(class),
                (a, b) => a == b,
            }
        });
        if let Some(&id) = found {
            if let Class::Tuple { start, .. } = class {
                self.class_kids.truncate(start as usize);
            }
            return id;
        }
        let id = self.classes.len() as u32;
        self.classes.push(class);
        self.class_value.push(v);
        let mut table = std::mem::take(&mut self.class_table);
        table.insert_unique(hash, id, |&i| self.class_hash(self.classes[i as usize]));
        self.class_table = table;
        id
    }

    /// The text of a class that is a string.
    pub fn class_text(&self, class: u32) -> Option<&str> {
        match self.classes[class as usize] {
            Class::Str(s) => Some(self.string(s)),
            _ => None,
        }
    }

    pub fn class_is_nil(&self, class: u32) -> bool {
        self.classes[class as usize] == Class::Nil
    }

    /// Bytes held, roughly, for memory accounting.
    pub fn bytes(&self) -> usize {
        self.nodes.capacity() * 16
            + self.kids.capacity() * 4
            + self.table.capacity() * 5
            + self.strings.iter().map(|s| s.len() + 16).sum::<usize>()
            + self.string_table.capacity() * 5
            + self.class_of.capacity() * 4
            + self.classes.capacity() * 16
            + self.class_table.capacity() * 5
    }

    /// The value as the Python object Python's readers make; lists and maps are new
    /// objects on every call (a history's ops never share a mutable value).
    pub fn to_python<'py>(&self, py: Python<'py>, v: Vid) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.node(v) {
            Node::Nil => py.None().into_bound(py),
            Node::Bool(b) => pyo3::types::PyBool::new(py, b).to_owned().into_any(),
            Node::Int(i) => i.into_pyobject(py)?.into_any(),
            Node::Big(s) => py.import("builtins")?.getattr("int")?.call1((self.string(s),))?,
            Node::Float(bits) => f64::from_bits(bits).into_pyobject(py)?.into_any(),
            Node::Str(s) => PyString::new(py, self.string(s)).into_any(),
            Node::List { start, len } => {
                let list = PyList::empty(py);
                for &item in self.kids(start, len) {
                    list.append(self.to_python(py, item)?)?;
                }
                list.into_any()
            }
            Node::Map { start, len } => {
                let dict = PyDict::new(py);
                for kv in self.kids(start, len).chunks_exact(2) {
                    dict.set_item(self.to_python(py, kv[0])?, self.to_python(py, kv[1])?)?;
                }
                dict.into_any()
            }
        })
    }

    /// A Python value (None, bool, int, float, str, list or tuple of these) as a value
    /// here, or None if it is something else.
    pub fn intern_python(&mut self, obj: &Bound<'_, PyAny>) -> Option<Vid> {
        use pyo3::types::{PyBool, PyFloat, PyInt, PyTuple};
        if obj.is_none() {
            return Some(self.nil());
        }
        if let Ok(b) = obj.downcast::<PyBool>() {
            return Some(self.boolean(b.is_true()));
        }
        if obj.is_instance_of::<PyInt>() {
            return obj.extract::<i64>().ok().map(|i| self.int(i));
        }
        if let Ok(f) = obj.downcast::<PyFloat>() {
            return Some(self.float(f.value()));
        }
        if let Ok(s) = obj.downcast::<PyString>() {
            return s.to_str().ok().map(|s| self.str_value(s));
        }
        let items: Vec<Bound<'_, PyAny>> = if let Ok(l) = obj.downcast::<PyList>() {
            l.iter().collect()
        } else if let Ok(t) = obj.downcast::<PyTuple>() {
            t.iter().collect()
        } else {
            return None;
        };
        let mut ids = Vec::with_capacity(items.len());
        for item in &items {
            ids.push(self.intern_python(item)?);
        }
        Some(self.list(&ids))
    }
}
