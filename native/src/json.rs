//! JSON, read the way Python's `json` module reads it, into `Values`.
//!
//! The reference is `labrys/history/_jsonl.py`, which calls `json.loads` on each line:
//! so `NaN`, `Infinity` and `-Infinity` are numbers, an integer too long for 64 bits is
//! still an integer, control characters inside strings are errors, and a repeated key
//! keeps its first place and its last value. Anything this reader does not reproduce
//! exactly (a lone surrogate escape, nesting deeper than `MAX_DEPTH`) is *declined*:
//! the caller then reads the file with the Python reader, which gives the same history
//! or the same error message as ever. The parser is iterative, so no input can
//! overflow the stack.

use crate::value::{Values, Vid};

/// Nesting deeper than this is left to the Python reader, which refuses values nested
/// past its own limit (100, `labrys/history/_limits.py`); well below it, so that the
/// two never disagree on where a value counts as too deep.
pub const MAX_DEPTH: usize = 64;

/// Integers of more digits are left to the Python reader, which refuses those past
/// 4,300 digits (Python's own limit on converting them).
pub const MAX_DIGITS: usize = 4000;

/// Lines longer than this are left to the Python reader, which refuses those past
/// 64 MiB.
pub const MAX_LINE: usize = 32 << 20;

pub type Declined = &'static str;

enum Frame {
    List(usize),
    Map(usize),
}

pub struct Json<'a> {
    b: &'a [u8],
    pub pos: usize,
    text: String,
    frames: Vec<Frame>,
    kids: Vec<Vid>,
}

impl<'a> Json<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Json { b, pos: 0, text: String::new(), frames: Vec::new(), kids: Vec::new() }
    }

    #[inline]
    fn peek(&self) -> u8 {
        self.b.get(self.pos).copied().unwrap_or(0)
    }

    #[inline]
    pub fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.pos) {
            if c == b' ' || c == b'\t' || c == b'\n' || c == b'\r' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// Whether only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.ws();
        self.pos == self.b.len()
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Declined> {
        if self.b[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err("not JSON")
        }
    }

    /// A top-level object's members, in order, as (key string id, value); repeated
    /// keys are left to the caller.
    pub fn object(&mut self, vals: &mut Values, out: &mut Vec<(u32, Vid)>) -> Result<(), Declined> {
        out.clear();
        self.ws();
        if self.peek() != b'{' {
            return Err("not a JSON object");
        }
        self.pos += 1;
        self.ws();
        if self.peek() == b'}' {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != b'"' {
                return Err("not JSON");
            }
            let key = self.string_id(vals)?;
            self.ws();
            if self.peek() != b':' {
                return Err("not JSON");
            }
            self.pos += 1;
            let value = self.value(vals)?;
            out.push((key, value));
            self.ws();
            match self.peek() {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err("not JSON"),
            }
        }
    }

    /// One value.
    pub fn value(&mut self, vals: &mut Values) -> Result<Vid, Declined> {
        let base = self.frames.len();
        let kids_base = self.kids.len();
        let result = self.value_inner(vals, base);
        if result.is_err() {
            self.frames.truncate(base);
            self.kids.truncate(kids_base);
        }
        result
    }

    fn value_inner(&mut self, vals: &mut Values, base: usize) -> Result<Vid, Declined> {
        'start: loop {
            self.ws();
            let mut v = match self.peek() {
                b'{' => {
                    self.pos += 1;
                    self.ws();
                    if self.peek() == b'}' {
                        self.pos += 1;
                        vals.map(&[])
                    } else {
                        self.open(Frame::Map(self.kids.len()), base)?;
                        self.map_key(vals)?;
                        continue 'start;
                    }
                }
                b'[' => {
                    self.pos += 1;
                    self.ws();
                    if self.peek() == b']' {
                        self.pos += 1;
                        vals.list(&[])
                    } else {
                        self.open(Frame::List(self.kids.len()), base)?;
                        continue 'start;
                    }
                }
                b'"' => {
                    let id = self.string_id(vals)?;
                    vals.str_id_value(id)
                }
                b'n' => {
                    self.literal(b"null")?;
                    vals.nil()
                }
                b't' => {
                    self.literal(b"true")?;
                    vals.boolean(true)
                }
                b'f' => {
                    self.literal(b"false")?;
                    vals.boolean(false)
                }
                b'N' => {
                    self.literal(b"NaN")?;
                    vals.float(f64::NAN)
                }
                b'I' => {
                    self.literal(b"Infinity")?;
                    vals.float(f64::INFINITY)
                }
                b'-' if self.b[self.pos..].starts_with(b"-Infinity") => {
                    self.pos += 9;
                    vals.float(f64::NEG_INFINITY)
                }
                b'-' | b'0'..=b'9' => self.number(vals)?,
                _ => return Err("not JSON"),
            };
            // A value is complete: it ends the parse or joins the collection around it.
            loop {
                if self.frames.len() == base {
                    return Ok(v);
                }
                self.kids.push(v);
                self.ws();
                match (self.frames.last(), self.peek()) {
                    (Some(Frame::List(_)), b',') | (Some(Frame::Map(_)), b',') => {
                        self.pos += 1;
                        if matches!(self.frames.last(), Some(Frame::Map(_))) {
                            self.map_key(vals)?;
                        }
                        continue 'start;
                    }
                    (Some(&Frame::List(mark)), b']') => {
                        self.pos += 1;
                        v = vals.list(&self.kids[mark..]);
                        self.kids.truncate(mark);
                        self.frames.pop();
                    }
                    (Some(&Frame::Map(mark)), b'}') => {
                        self.pos += 1;
                        v = vals.map(&self.kids[mark..]);
                        self.kids.truncate(mark);
                        self.frames.pop();
                    }
                    _ => return Err("not JSON"),
                }
            }
        }
    }

    fn open(&mut self, frame: Frame, base: usize) -> Result<(), Declined> {
        if self.frames.len() - base >= MAX_DEPTH {
            return Err("nested too deep");
        }
        self.frames.push(frame);
        Ok(())
    }

    /// A map's next key and its colon: the key joins the kids.
    fn map_key(&mut self, vals: &mut Values) -> Result<(), Declined> {
        self.ws();
        if self.peek() != b'"' {
            return Err("not JSON");
        }
        let id = self.string_id(vals)?;
        let key = vals.str_id_value(id);
        self.kids.push(key);
        self.ws();
        if self.peek() != b':' {
            return Err("not JSON");
        }
        self.pos += 1;
        Ok(())
    }

    /// A string at `pos` (on its opening quote), interned.
    fn string_id(&mut self, vals: &mut Values) -> Result<u32, Declined> {
        self.pos += 1;
        let start = self.pos;
        while let Some(&c) = self.b.get(self.pos) {
            if c == b'"' {
                // The input is valid UTF-8 and quotes are ASCII, so this is a char boundary.
                let s = std::str::from_utf8(&self.b[start..self.pos]).map_err(|_| "not UTF-8")?;
                self.pos += 1;
                return Ok(vals.intern_str(s));
            }
            if c == b'\\' || c < 0x20 {
                break;
            }
            self.pos += 1;
        }
        self.text.clear();
        self.text.push_str(std::str::from_utf8(&self.b[start..self.pos]).map_err(|_| "not UTF-8")?);
        loop {
            let Some(&c) = self.b.get(self.pos) else { return Err("unterminated string") };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(vals.intern_str(&self.text));
                }
                b'\\' => {
                    let e = self.b.get(self.pos + 1).copied().ok_or("bad escape")?;
                    self.pos += 2;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err("bad escape"),
                    };
                    self.text.push(ch);
                }
                c if c < 0x20 => return Err("control character in a string"),
                _ => {
                    let run = self.pos;
                    while let Some(&c) = self.b.get(self.pos) {
                        if c == b'"' || c == b'\\' || c < 0x20 {
                            break;
                        }
                        self.pos += 1;
                    }
                    self.text.push_str(std::str::from_utf8(&self.b[run..self.pos]).map_err(|_| "not UTF-8")?);
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, Declined> {
        let digits = self.b.get(self.pos..self.pos + 4).ok_or("bad escape")?;
        let mut v = 0u32;
        for &d in digits {
            v = v * 16 + (d as char).to_digit(16).ok_or("bad escape")?;
        }
        self.pos += 4;
        Ok(v)
    }

    /// After `\u`: a character, combining a surrogate pair; a lone surrogate (which
    /// Python keeps and Rust strings cannot hold) is declined.
    fn unicode_escape(&mut self) -> Result<char, Declined> {
        let hi = self.hex4()?;
        if (0xd800..0xdc00).contains(&hi) && self.b[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let lo = self.hex4()?;
            if (0xdc00..0xe000).contains(&lo) {
                return char::from_u32(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)).ok_or("bad escape");
            }
            self.pos = save;
        }
        char::from_u32(hi).ok_or("lone surrogate")
    }

    /// A number as Python's json reads one: `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`,
    /// an int without fraction and exponent, a float otherwise.
    fn number(&mut self, vals: &mut Values) -> Result<Vid, Declined> {
        let start = self.pos;
        if self.peek() == b'-' {
            self.pos += 1;
        }
        match self.peek() {
            b'0' => self.pos += 1,
            b'1'..=b'9' => {
                while self.peek().is_ascii_digit() {
                    self.pos += 1;
                }
            }
            _ => return Err("not JSON"),
        }
        let mut float = false;
        if self.peek() == b'.' && self.b.get(self.pos + 1).is_some_and(u8::is_ascii_digit) {
            float = true;
            self.pos += 1;
            while self.peek().is_ascii_digit() {
                self.pos += 1;
            }
        }
        if matches!(self.peek(), b'e' | b'E') {
            let mut p = self.pos + 1;
            if matches!(self.b.get(p), Some(b'+' | b'-')) {
                p += 1;
            }
            if self.b.get(p).is_some_and(u8::is_ascii_digit) {
                float = true;
                self.pos = p;
                while self.peek().is_ascii_digit() {
                    self.pos += 1;
                }
            }
        }
        let text = std::str::from_utf8(&self.b[start..self.pos]).map_err(|_| "not UTF-8")?;
        if float {
            return text.parse::<f64>().map(|f| vals.float(f)).map_err(|_| "bad number");
        }
        Ok(match text.parse::<i64>() {
            Ok(i) => vals.int(i),
            Err(_) if text.len() > MAX_DIGITS => return Err("an integer of too many digits"),
            Err(_) => vals.big(text),
        })
    }
}
