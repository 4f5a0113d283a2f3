//! The memo: a hash set of variable-length keys of `u64` words, stored in one arena.
//!
//! Lowe's improvement to Wing and Gong's search remembers every (set of placed
//! operations, model state) pair it has reached, because two prefixes that reach the
//! same pair have the same futures. Over long histories that table is the whole cost
//! of the search, so it is kept lean: keys are written back to back into one `Vec<u64>`
//! and the hash table holds only (hash, offset, length). Nothing is allocated per entry
//! and the bytes held are known exactly, which is what the memory budget reads.

use hashbrown::HashTable;

#[derive(Clone, Copy)]
struct Slot {
    hash: u64,
    start: usize,
    len: u32,
}

pub struct Memo {
    words: Vec<u64>,
    table: HashTable<Slot>,
}

/// A fast, well-mixed hash of a key (multiply-xorshift per word, splitmix finaliser).
#[inline]
fn hash_words(key: &[u64]) -> u64 {
    let mut h: u64 = 0x243f_6a88_85a3_08d3 ^ (key.len() as u64);
    for &w in key {
        h = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^= h >> 29;
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl Memo {
    pub fn new() -> Self {
        Memo { words: Vec::new(), table: HashTable::new() }
    }

    /// Adds `key`; true if it was not there before.
    #[inline]
    pub fn insert(&mut self, key: &[u64]) -> bool {
        let hash = hash_words(key);
        let words = &self.words;
        // Keys are a few words: an inline comparison beats a call to memcmp.
        let found = self.table.find(hash, |s| {
            s.hash == hash
                && s.len as usize == key.len()
                && words[s.start..s.start + key.len()].iter().zip(key).all(|(a, b)| a == b)
        });
        if found.is_some() {
            return false;
        }
        let start = self.words.len();
        self.words.extend_from_slice(key);
        self.table.insert_unique(hash, Slot { hash, start, len: key.len() as u32 }, |s| s.hash);
        true
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Bytes held: the arena and the table, at their capacities.
    pub fn bytes(&self) -> usize {
        self.words.capacity() * 8 + self.table.capacity() * (std::mem::size_of::<Slot>() + 1)
    }
}
