//! What counts as synced: the durability model, and the durable tree it maintains.
//!
//! The file system keeps two trees. The *visible* tree is what processes on the mount
//! see: every write, truncate, create, rename and unlink is done on it at once. The
//! *durable* tree is what a disk would hold after a power failure at this instant: it
//! changes only when something is synced. Losing the unsynced data is then making the
//! visible tree equal to the durable one again (see `restore`).
//!
//! The rules, which follow ext4 in its default `data=ordered` mode, with the journal
//! committed by every fsync and never on its own timer (lazyfs, by comparison, loses
//! only file data and keeps every namespace change at once):
//!
//! 1. File data and file size become durable only through `fsync` or `fdatasync` on
//!    that file (through any descriptor of it), or a write through a descriptor opened
//!    with `O_SYNC`/`O_DSYNC` (the kernel turns those into an fsync per write). Closing
//!    a file syncs nothing.
//! 2. Namespace changes -- create, mkdir, mknod, symlink, link, unlink, rmdir, rename,
//!    chmod, chown -- are journaled in order and become durable together, all of
//!    those made so far, at the next `fsync`/`fdatasync` of any file or any directory
//!    (ext4 has one journal and an fsync commits it whole). So a file created and
//!    fsynced is there after a power failure, with its name; a rename followed by no
//!    fsync at all is lost.
//! 3. ext4's `auto_da_alloc` heuristics, which make the common "write a new version,
//!    rename it over the old one" and "truncate to zero, rewrite, close" patterns safe
//!    without an fsync, are modelled as an fdatasync of the file at that moment: just
//!    before a rename replaces an existing file with another regular file, and when a
//!    file truncated to size 0 since it was last synced is closed.
//! 4. Timestamps are not part of the model (they stay as the visible tree has them),
//!    nor are extended attributes (not supported). `sync(2)` and `syncfs(2)` sync
//!    nothing: the kernel does not forward them to a FUSE file system.
//!
//! A write that has not returned when the power fails may be durable in part, as on a
//! disk; one that has returned but was never synced is gone.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::sys;

/// A file's identity in the visible tree: device and inode number.
pub type Key = (u64, u64);

pub fn key_of(st: &libc::stat) -> Key {
    (st.st_dev, st.st_ino)
}

/// A way to reach a file of the visible tree whatever it is renamed to: an `O_PATH`
/// descriptor, and the file's key.
pub struct Anchor {
    pub fd: OwnedFd,
    pub key: Key,
}

/// Disjoint, non-adjacent byte ranges `[start, end)`.
#[derive(Default)]
pub struct RangeSet(BTreeMap<u64, u64>);

impl RangeSet {
    pub fn add(&mut self, mut start: u64, mut end: u64) {
        if start >= end {
            return;
        }
        // Swallow every range that overlaps or touches [start, end).
        let touching: Vec<(u64, u64)> = self
            .0
            .range(..=end)
            .rev()
            .take_while(|(_, &e)| e >= start)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in touching {
            self.0.remove(&s);
            start = start.min(s);
            end = end.max(e);
        }
        self.0.insert(start, end);
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.0.iter().map(|(&s, &e)| (s, e))
    }

    pub fn bytes(&self) -> u64 {
        self.iter().map(|(s, e)| e - s).sum()
    }
}

/// One namespace change, with paths relative to the tree's root, as journaled.
pub enum NsOp {
    Mknod { path: PathBuf, mode: u32, rdev: u64, uid: u32, gid: u32 },
    Mkdir { path: PathBuf, mode: u32, uid: u32, gid: u32 },
    Symlink { path: PathBuf, target: PathBuf, uid: u32, gid: u32 },
    Link { from: PathBuf, to: PathBuf },
    Unlink { path: PathBuf },
    Rmdir { path: PathBuf },
    Rename { from: PathBuf, to: PathBuf, flags: u32 },
    Chmod { path: PathBuf, mode: u32 },
    Chown { path: PathBuf, uid: u32, gid: u32 },
}

impl NsOp {
    /// Do the same change on the durable tree.
    fn apply(&self, root: RawFd) -> io::Result<()> {
        use sys::cpath as c;
        match self {
            NsOp::Mknod { path, mode, rdev, uid, gid } => {
                sys::mknodat(root, &c(path), *mode, *rdev)?;
                sys::fchownat(root, &c(path), *uid, *gid)
            }
            NsOp::Mkdir { path, mode, uid, gid } => {
                sys::mkdirat(root, &c(path), *mode)?;
                sys::fchownat(root, &c(path), *uid, *gid)
            }
            NsOp::Symlink { path, target, uid, gid } => {
                sys::symlinkat(&c(target), root, &c(path))?;
                sys::fchownat(root, &c(path), *uid, *gid)
            }
            NsOp::Link { from, to } => sys::linkat(root, &c(from), root, &c(to), 0),
            NsOp::Unlink { path } => sys::unlinkat(root, &c(path), 0),
            NsOp::Rmdir { path } => sys::unlinkat(root, &c(path), libc::AT_REMOVEDIR),
            NsOp::Rename { from, to, flags } => sys::renameat2(root, &c(from), root, &c(to), *flags),
            NsOp::Chmod { path, mode } => sys::fchmodat(root, &c(path), *mode),
            NsOp::Chown { path, uid, gid } => sys::fchownat(root, &c(path), *uid, *gid),
        }
    }

    fn describe(&self) -> String {
        match self {
            NsOp::Mknod { path, .. } => format!("create {}", path.display()),
            NsOp::Mkdir { path, .. } => format!("mkdir {}", path.display()),
            NsOp::Symlink { path, .. } => format!("symlink {}", path.display()),
            NsOp::Link { from, to } => format!("link {} {}", from.display(), to.display()),
            NsOp::Unlink { path } => format!("unlink {}", path.display()),
            NsOp::Rmdir { path } => format!("rmdir {}", path.display()),
            NsOp::Rename { from, to, .. } => format!("rename {} {}", from.display(), to.display()),
            NsOp::Chmod { path, .. } => format!("chmod {}", path.display()),
            NsOp::Chown { path, .. } => format!("chown {}", path.display()),
        }
    }
}

/// A file with unsynced data.
struct Dirty {
    anchor: Arc<Anchor>,
    ranges: RangeSet,
    truncated_to_zero: bool,
}

/// What is unsynced right now: what a power failure would lose.
pub struct Unsynced {
    pub files: usize,
    pub bytes: u64,
    pub namespace_ops: usize,
}

/// Paths where the visible tree may differ from the durable one, written down before
/// each change, so that a later start can put exactly those back (`restore`) even
/// when this process was killed. One path per entry, each ended by a NUL byte.
pub struct Touched {
    file: File,
    seen: HashSet<PathBuf>,
}

impl Touched {
    pub fn create(path: &Path) -> io::Result<Touched> {
        let file = std::fs::OpenOptions::new().create(true).write(true).truncate(true).open(path)?;
        drop(file);
        let file = std::fs::OpenOptions::new().append(true).open(path)?;
        Ok(Touched { file, seen: HashSet::new() })
    }

    fn note(&mut self, path: &Path) -> io::Result<()> {
        if self.seen.contains(path) {
            return Ok(());
        }
        let mut entry = path.as_os_str().as_bytes().to_vec();
        entry.push(0);
        // One write(2): whole or not at all as far as a later reader can tell, since
        // a torn entry is a prefix of a real path and restoring it is harmless.
        self.file.write_all(&entry)?;
        self.seen.insert(path.to_path_buf());
        Ok(())
    }
}

/// The durability state of one mounted tree.
pub struct Model {
    visible: OwnedFd,
    visible_path: PathBuf,
    durable: OwnedFd,
    journal: VecDeque<NsOp>,
    dirty: HashMap<Key, Dirty>,
    touched: Touched,
}

const COPY_CHUNK: usize = 1 << 20;

impl Model {
    pub fn new(visible: &Path, durable: &Path, touched: Touched) -> io::Result<Model> {
        let open_dir = |p: &Path| sys::openat(libc::AT_FDCWD, &sys::cpath(p), libc::O_PATH | libc::O_DIRECTORY, 0);
        Ok(Model {
            visible: open_dir(visible)?,
            visible_path: std::fs::canonicalize(visible)?,
            durable: open_dir(durable)?,
            journal: VecDeque::new(),
            dirty: HashMap::new(),
            touched,
        })
    }

    pub fn visible_fd(&self) -> RawFd {
        self.visible.as_raw_fd()
    }

    /// The path, relative to the root, of the visible file `fd` names; None once it
    /// has no name (unlinked).
    pub fn path_of(&self, fd: RawFd) -> io::Result<Option<PathBuf>> {
        if sys::fstat(fd)?.st_nlink == 0 {
            return Ok(None);
        }
        let absolute = sys::readlinkat(libc::AT_FDCWD, &sys::proc_fd(fd))?;
        Ok(absolute.strip_prefix(&self.visible_path).ok().map(Path::to_path_buf))
    }

    /// The path of `name` in the directory `parent` names.
    pub fn child_path(&self, parent: RawFd, name: &OsStr) -> io::Result<PathBuf> {
        match self.path_of(parent)? {
            Some(dir) => Ok(dir.join(name)),
            None => Err(io::Error::from_raw_os_error(libc::ENOENT)),
        }
    }

    /// Write down, before a namespace change, the paths it may change.
    pub fn touch(&mut self, paths: &[&Path]) -> io::Result<()> {
        paths.iter().try_for_each(|p| self.touched.note(p))
    }

    /// Journal a namespace change that was just made on the visible tree.
    pub fn journal(&mut self, op: NsOp) {
        self.journal.push_back(op);
    }

    /// Note that `[start, end)` of a file changed in the visible tree.
    pub fn changed(&mut self, anchor: &Arc<Anchor>, start: u64, end: u64) -> io::Result<()> {
        if !self.dirty.contains_key(&anchor.key) {
            if let Some(path) = self.path_of(anchor.fd.as_raw_fd())? {
                self.touched.note(&path)?;
            }
            let fresh = Dirty { anchor: Arc::clone(anchor), ranges: RangeSet::default(), truncated_to_zero: false };
            self.dirty.insert(anchor.key, fresh);
        }
        if let Some(dirty) = self.dirty.get_mut(&anchor.key) {
            dirty.ranges.add(start, end);
        }
        Ok(())
    }

    /// Note a truncation from `old` to `new` bytes.
    pub fn truncated(&mut self, anchor: &Arc<Anchor>, old: u64, new: u64) -> io::Result<()> {
        self.changed(anchor, old.min(new), old.max(new))?;
        if new == 0 {
            if let Some(dirty) = self.dirty.get_mut(&anchor.key) {
                dirty.truncated_to_zero = true;
            }
        }
        Ok(())
    }

    pub fn is_dirty(&self, key: &Key) -> bool {
        self.dirty.contains_key(key)
    }

    pub fn truncated_to_zero(&self, key: &Key) -> bool {
        self.dirty.get(key).is_some_and(|d| d.truncated_to_zero)
    }

    /// Commit the journal: every namespace change so far becomes durable, in order.
    pub fn commit(&mut self) {
        while let Some(op) = self.journal.pop_front() {
            if let Err(e) = op.apply(self.durable.as_raw_fd()) {
                // The durable tree followed every change so far, so this is a bug;
                // say so and carry on with the rest rather than stop syncing.
                eprintln!("labrys-lazyfs: durable tree out of step: {} failed: {e}", op.describe());
            }
        }
    }

    /// fsync/fdatasync of the file `key`: commit the journal, then make its data and
    /// size durable.
    pub fn sync(&mut self, key: &Key) -> io::Result<()> {
        self.commit();
        let Some(dirty) = self.dirty.remove(key) else { return Ok(()) };
        let result = self.copy_to_durable(&dirty);
        if result.is_err() {
            self.dirty.insert(*key, dirty);
        }
        result
    }

    fn copy_to_durable(&self, dirty: &Dirty) -> io::Result<()> {
        let fd = dirty.anchor.fd.as_raw_fd();
        // After the commit the durable tree has the same names as the visible one, so
        // the file is where the visible tree has it -- unless it has no name any more,
        // and then what it holds can never be read after a power failure.
        let Some(path) = self.path_of(fd)? else { return Ok(()) };
        let source = sys::reopen(fd, libc::O_RDONLY)?;
        let target = sys::openat(self.durable.as_raw_fd(), &sys::cpath(&path), libc::O_WRONLY, 0)?;
        let size = sys::fstat(source.as_raw_fd())?.st_size as u64;
        copy_ranges(source.as_raw_fd(), target.as_raw_fd(), &dirty.ranges, size)
    }

    /// Sync everything, as `sync(1)` would on a disk: the journal, then every file.
    /// Returns what was synced.
    pub fn sync_all(&mut self) -> io::Result<Unsynced> {
        let before = self.unsynced();
        let keys: Vec<Key> = self.dirty.keys().copied().collect();
        for key in keys {
            self.sync(&key)?;
        }
        self.commit();
        Ok(before)
    }

    pub fn unsynced(&self) -> Unsynced {
        Unsynced {
            files: self.dirty.len(),
            bytes: self.dirty.values().map(|d| d.ranges.bytes()).sum(),
            namespace_ops: self.journal.len(),
        }
    }
}

/// Copy `ranges` of `source` into `target` and give `target` the size `size`.
///
/// Zeros that would land past the end of `target` are skipped and left as a hole:
/// they read back as zeros all the same, and a preallocated log segment (etcd's
/// 64 MB WAL files) is then not copied byte by byte.
fn copy_ranges(source: RawFd, target: RawFd, ranges: &RangeSet, size: u64) -> io::Result<()> {
    let mut target_size = sys::fstat(target)?.st_size as u64;
    let longest = ranges.iter().map(|(s, e)| e.min(size).saturating_sub(s)).max().unwrap_or(0);
    let mut buf = vec![0u8; (longest as usize).clamp(1, COPY_CHUNK)];
    for (start, end) in ranges.iter() {
        let end = end.min(size);
        let mut offset = start;
        while offset < end {
            let want = ((end - offset) as usize).min(buf.len());
            let n = sys::pread(source, &mut buf[..want], offset)?;
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            if offset < target_size || chunk.iter().any(|&b| b != 0) {
                sys::pwrite_all(target, chunk, offset)?;
                target_size = target_size.max(offset + n as u64);
            }
            offset += n as u64;
        }
    }
    sys::ftruncate(target, size)
}

#[cfg(test)]
mod tests {
    use super::RangeSet;

    fn ranges(set: &RangeSet) -> Vec<(u64, u64)> {
        set.iter().collect()
    }

    #[test]
    fn appends_merge_into_one_range() {
        let mut set = RangeSet::default();
        for i in 0..100 {
            set.add(i * 10, i * 10 + 10);
        }
        assert_eq!(ranges(&set), vec![(0, 1000)]);
    }

    #[test]
    fn overlapping_and_disjoint_ranges() {
        let mut set = RangeSet::default();
        set.add(100, 200);
        set.add(300, 400);
        set.add(150, 320);
        set.add(500, 510);
        assert_eq!(ranges(&set), vec![(100, 400), (500, 510)]);
        assert_eq!(set.bytes(), 310);
    }
}
