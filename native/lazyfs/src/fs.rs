//! The FUSE side: a passthrough to the visible tree that tells the model what changed.
//!
//! Every inode the kernel knows is an `Anchor` (an `O_PATH` descriptor of the visible
//! file), so operations follow a file through renames, and every operation is done
//! with the `*at` system calls relative to those descriptors. Data operations go
//! straight to the visible file and then tell the model which bytes changed;
//! namespace operations hold the model's lock while they write down the touched
//! paths, change the visible tree and journal the change, so the journal's order is
//! the order in which they happened. The daemon runs as root: files are created with
//! the caller's owner, and the kernel checks permissions (`default_permissions`).
//!
//! The kernel caches nothing that could go stale: this mount is the only way to the
//! visible tree while it is mounted, and a power failure unmounts it.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry,
    ReplyLseek, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use crate::model::{key_of, Anchor, Key, Model, NsOp};
use crate::sys;

const TTL: Duration = Duration::from_secs(1);

struct Inodes {
    by_ino: HashMap<u64, (Arc<Anchor>, u64)>,
    by_key: HashMap<Key, u64>,
    next: u64,
}

impl Inodes {
    /// The inode for a freshly opened `O_PATH` descriptor, counting one more lookup.
    fn remember(&mut self, fd: OwnedFd, st: &libc::stat) -> u64 {
        let key = key_of(st);
        if let Some(&ino) = self.by_key.get(&key) {
            if let Some(entry) = self.by_ino.get_mut(&ino) {
                entry.1 += 1;
                return ino;
            }
        }
        self.next += 1;
        let ino = self.next;
        self.by_ino.insert(ino, (Arc::new(Anchor { fd, key }), 1));
        self.by_key.insert(key, ino);
        ino
    }

    fn forget(&mut self, ino: u64, n: u64) {
        if ino == INodeNo::ROOT.0 {
            return;
        }
        let gone = match self.by_ino.get_mut(&ino) {
            Some(entry) => {
                entry.1 = entry.1.saturating_sub(n);
                entry.1 == 0
            }
            None => false,
        };
        if gone {
            if let Some((anchor, _)) = self.by_ino.remove(&ino) {
                if self.by_key.get(&anchor.key) == Some(&ino) {
                    self.by_key.remove(&anchor.key);
                }
            }
        }
    }
}

struct Handle {
    fd: OwnedFd,
    anchor: Arc<Anchor>,
    entries: Mutex<Vec<(Vec<u8>, u64, FileType)>>,
}

pub struct LazyFs {
    model: Arc<Mutex<Model>>,
    inodes: Mutex<Inodes>,
    handles: RwLock<HashMap<u64, Arc<Handle>>>,
    next_fh: AtomicU64,
}

fn errno(e: io::Error) -> Errno {
    Errno::from_i32(e.raw_os_error().unwrap_or(libc::EIO))
}

fn time(sec: i64, nsec: i64) -> SystemTime {
    if sec >= 0 {
        UNIX_EPOCH + Duration::new(sec as u64, nsec as u32)
    } else {
        UNIX_EPOCH - Duration::from_secs(sec.unsigned_abs())
    }
}

fn kind(mode: u32) -> FileType {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => FileType::Directory,
        libc::S_IFLNK => FileType::Symlink,
        libc::S_IFIFO => FileType::NamedPipe,
        libc::S_IFSOCK => FileType::Socket,
        libc::S_IFCHR => FileType::CharDevice,
        libc::S_IFBLK => FileType::BlockDevice,
        _ => FileType::RegularFile,
    }
}

fn attr(ino: u64, st: &libc::stat) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size: st.st_size as u64,
        blocks: st.st_blocks as u64,
        atime: time(st.st_atime, st.st_atime_nsec),
        mtime: time(st.st_mtime, st.st_mtime_nsec),
        ctime: time(st.st_ctime, st.st_ctime_nsec),
        crtime: UNIX_EPOCH,
        kind: kind(st.st_mode),
        perm: (st.st_mode & 0o7777) as u16,
        nlink: st.st_nlink as u32,
        uid: st.st_uid,
        gid: st.st_gid,
        rdev: st.st_rdev as u32,
        flags: 0,
        blksize: st.st_blksize as u32,
    }
}

fn timespec(t: TimeOrNow) -> libc::timespec {
    match t {
        TimeOrNow::Now => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_NOW },
        TimeOrNow::SpecificTime(t) => {
            let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
            libc::timespec { tv_sec: d.as_secs() as i64, tv_nsec: d.subsec_nanos() as i64 }
        }
    }
}

/// The flags the visible file is opened with for a caller's open flags. Appends,
/// truncation, direct and synchronous I/O are the kernel's business: it sends write
/// offsets, a separate truncate, and an fsync after each write of an `O_SYNC` file.
fn backing_flags(flags: i32) -> i32 {
    if flags & libc::O_ACCMODE == libc::O_RDONLY {
        libc::O_RDONLY
    } else {
        libc::O_RDWR
    }
}

impl LazyFs {
    pub fn new(model: Arc<Mutex<Model>>) -> io::Result<LazyFs> {
        let root_fd = sys::reopen(model.lock().expect("model lock").visible_fd(), libc::O_PATH | libc::O_DIRECTORY)?;
        let st = sys::fstat(root_fd.as_raw_fd())?;
        let root = Arc::new(Anchor { fd: root_fd, key: key_of(&st) });
        let mut inodes = Inodes { by_ino: HashMap::new(), by_key: HashMap::new(), next: INodeNo::ROOT.0 };
        inodes.by_key.insert(root.key, INodeNo::ROOT.0);
        inodes.by_ino.insert(INodeNo::ROOT.0, (root, 1));
        Ok(LazyFs { model, inodes: Mutex::new(inodes), handles: RwLock::new(HashMap::new()), next_fh: AtomicU64::new(1) })
    }

    fn model(&self) -> std::sync::MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn anchor(&self, ino: INodeNo) -> Result<Arc<Anchor>, Errno> {
        let inodes = self.inodes.lock().unwrap_or_else(|p| p.into_inner());
        inodes.by_ino.get(&ino.0).map(|(a, _)| Arc::clone(a)).ok_or(Errno::ENOENT)
    }

    fn handle(&self, fh: FileHandle) -> Result<Arc<Handle>, Errno> {
        let handles = self.handles.read().unwrap_or_else(|p| p.into_inner());
        handles.get(&fh.0).cloned().ok_or(Errno::EBADF)
    }

    fn new_handle(&self, fd: OwnedFd, anchor: Arc<Anchor>) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        let handle = Arc::new(Handle { fd, anchor, entries: Mutex::new(Vec::new()) });
        self.handles.write().unwrap_or_else(|p| p.into_inner()).insert(fh, handle);
        fh
    }

    /// Look `name` up in `parent` and count a lookup of it: its inode and attributes.
    fn lookup_in(&self, parent: &Anchor, name: &OsStr) -> io::Result<(u64, libc::stat)> {
        let fd = sys::openat(parent.fd.as_raw_fd(), &sys::cname(name), libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        let st = sys::fstat(fd.as_raw_fd())?;
        let ino = self.inodes.lock().unwrap_or_else(|p| p.into_inner()).remember(fd, &st);
        Ok((ino, st))
    }

    fn reply_entry(&self, parent: &Anchor, name: &OsStr, reply: ReplyEntry) {
        match self.lookup_in(parent, name) {
            Ok((ino, st)) => reply.entry(&TTL, &attr(ino, &st), Generation(0)),
            Err(e) => reply.error(errno(e)),
        }
    }

    /// A namespace change in `parent`: under the model's lock, write down `name`'s
    /// path as touched, make the change, and journal what `journal` makes of the path.
    fn change(
        &self,
        parent: &Anchor,
        name: &OsStr,
        make: impl FnOnce() -> io::Result<()>,
        journal: impl FnOnce(std::path::PathBuf) -> NsOp,
    ) -> io::Result<()> {
        let mut model = self.model();
        let path = model.child_path(parent.fd.as_raw_fd(), name)?;
        model.touch(&[&path])?;
        make()?;
        model.journal(journal(path));
        Ok(())
    }

    /// fsync of a file (any of its handles): commit, then make its data durable.
    fn sync_file(&self, key: &Key) -> io::Result<()> {
        self.model().sync(key)
    }
}

impl Filesystem for LazyFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.anchor(parent) {
            Ok(p) => self.reply_entry(&p, name, reply),
            Err(e) => reply.error(e),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.inodes.lock().unwrap_or_else(|p| p.into_inner()).forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let result = self.anchor(ino).and_then(|a| sys::fstat(a.fd.as_raw_fd()).map_err(errno));
        match result {
            Ok(st) => reply.attr(&TTL, &attr(ino.0, &st)),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let result = (|| -> Result<libc::stat, Errno> {
            let anchor = self.anchor(ino)?;
            let fd = anchor.fd.as_raw_fd();
            if let Some(size) = size {
                let writable = match fh.map(|fh| self.handle(fh)) {
                    Some(Ok(handle)) => sys::reopen(handle.fd.as_raw_fd(), libc::O_WRONLY),
                    _ => sys::reopen(fd, libc::O_WRONLY),
                }
                .map_err(errno)?;
                let old = sys::fstat(fd).map_err(errno)?.st_size as u64;
                sys::ftruncate(writable.as_raw_fd(), size).map_err(errno)?;
                self.model().truncated(&anchor, old, size).map_err(errno)?;
            }
            if mode.is_some() || uid.is_some() || gid.is_some() {
                let mut model = self.model();
                let path = model.path_of(fd).map_err(errno)?.ok_or(Errno::ENOENT)?;
                model.touch(&[&path]).map_err(errno)?;
                if let Some(mode) = mode {
                    sys::fchmodat(libc::AT_FDCWD, &sys::proc_fd(fd), mode & 0o7777).map_err(errno)?;
                    model.journal(NsOp::Chmod { path: path.clone(), mode: mode & 0o7777 });
                }
                if uid.is_some() || gid.is_some() {
                    let (u, g) = (uid.unwrap_or(u32::MAX), gid.unwrap_or(u32::MAX));
                    sys::fchown_fd(fd, u, g).map_err(errno)?;
                    model.journal(NsOp::Chown { path, uid: u, gid: g });
                }
            }
            if atime.is_some() || mtime.is_some() {
                sys::utimens_fd(fd, atime.map(timespec), mtime.map(timespec)).map_err(errno)?;
            }
            sys::fstat(fd).map_err(errno)
        })();
        match result {
            Ok(st) => reply.attr(&TTL, &attr(ino.0, &st)),
            Err(e) => reply.error(e),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let result = self.anchor(ino).and_then(|a| {
            let empty = std::ffi::CString::new("").expect("no NUL");
            sys::readlinkat(a.fd.as_raw_fd(), &empty).map_err(errno)
        });
        match result {
            Ok(target) => reply.data(target.as_os_str().as_bytes()),
            Err(e) => reply.error(e),
        }
    }

    fn mknod(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, _umask: u32, rdev: u32, reply: ReplyEntry) {
        let (uid, gid) = (req.uid(), req.gid());
        let result = self.anchor(parent).and_then(|p| {
            let dir = p.fd.as_raw_fd();
            let c = sys::cname(name);
            self.change(&p, name, || {
                sys::mknodat(dir, &c, mode, rdev as u64)?;
                sys::fchownat(dir, &c, uid, gid)
            }, |path| NsOp::Mknod { path, mode, rdev: rdev as u64, uid, gid })
            .map_err(errno)?;
            Ok(p)
        });
        match result {
            Ok(p) => self.reply_entry(&p, name, reply),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, _umask: u32, reply: ReplyEntry) {
        let (uid, gid) = (req.uid(), req.gid());
        let result = self.anchor(parent).and_then(|p| {
            let dir = p.fd.as_raw_fd();
            let c = sys::cname(name);
            self.change(&p, name, || {
                sys::mkdirat(dir, &c, mode & 0o7777)?;
                sys::fchownat(dir, &c, uid, gid)
            }, |path| NsOp::Mkdir { path, mode: mode & 0o7777, uid, gid })
            .map_err(errno)?;
            Ok(p)
        });
        match result {
            Ok(p) => self.reply_entry(&p, name, reply),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let result = self.anchor(parent).and_then(|p| {
            let dir = p.fd.as_raw_fd();
            self.change(&p, name, || sys::unlinkat(dir, &sys::cname(name), 0), |path| NsOp::Unlink { path })
                .map_err(errno)
        });
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let result = self.anchor(parent).and_then(|p| {
            let dir = p.fd.as_raw_fd();
            self.change(&p, name, || sys::unlinkat(dir, &sys::cname(name), libc::AT_REMOVEDIR), |path| {
                NsOp::Rmdir { path }
            })
            .map_err(errno)
        });
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn symlink(&self, req: &Request, parent: INodeNo, link_name: &OsStr, target: &Path, reply: ReplyEntry) {
        let (uid, gid) = (req.uid(), req.gid());
        let result = self.anchor(parent).and_then(|p| {
            let dir = p.fd.as_raw_fd();
            let c = sys::cname(link_name);
            let t = sys::cpath(target);
            self.change(&p, link_name, || {
                sys::symlinkat(&t, dir, &c)?;
                sys::fchownat(dir, &c, uid, gid)
            }, |path| NsOp::Symlink { path, target: target.to_path_buf(), uid, gid })
            .map_err(errno)?;
            Ok(p)
        });
        match result {
            Ok(p) => self.reply_entry(&p, link_name, reply),
            Err(e) => reply.error(e),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let result = (|| -> Result<(), Errno> {
            let (from_dir, to_dir) = (self.anchor(parent)?, self.anchor(newparent)?);
            let (from_fd, to_fd) = (from_dir.fd.as_raw_fd(), to_dir.fd.as_raw_fd());
            let (from_c, to_c) = (sys::cname(name), sys::cname(newname));
            let flags = flags.bits();
            let mut model = self.model();
            if flags & libc::RENAME_EXCHANGE == 0 {
                // ext4's auto_da_alloc: a file renamed over an existing one is flushed.
                let source = sys::fstatat(from_fd, &from_c).map_err(errno)?;
                let replaced = sys::fstatat(to_fd, &to_c);
                let regular = |st: &libc::stat| st.st_mode & libc::S_IFMT == libc::S_IFREG;
                if regular(&source) && replaced.is_ok_and(|st| regular(&st)) && model.is_dirty(&key_of(&source)) {
                    model.sync(&key_of(&source)).map_err(errno)?;
                }
            }
            let from = model.child_path(from_fd, name).map_err(errno)?;
            let to = model.child_path(to_fd, newname).map_err(errno)?;
            model.touch(&[&from, &to]).map_err(errno)?;
            sys::renameat2(from_fd, &from_c, to_fd, &to_c, flags).map_err(errno)?;
            model.journal(NsOp::Rename { from, to, flags });
            Ok(())
        })();
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn link(&self, _req: &Request, ino: INodeNo, newparent: INodeNo, newname: &OsStr, reply: ReplyEntry) {
        let result = (|| -> Result<Arc<Anchor>, Errno> {
            let (file, dir) = (self.anchor(ino)?, self.anchor(newparent)?);
            let mut model = self.model();
            let from = model.path_of(file.fd.as_raw_fd()).map_err(errno)?.ok_or(Errno::ENOENT)?;
            let to = model.child_path(dir.fd.as_raw_fd(), newname).map_err(errno)?;
            model.touch(&[&to]).map_err(errno)?;
            let source = sys::proc_fd(file.fd.as_raw_fd());
            sys::linkat(libc::AT_FDCWD, &source, dir.fd.as_raw_fd(), &sys::cname(newname), libc::AT_SYMLINK_FOLLOW)
                .map_err(errno)?;
            model.journal(NsOp::Link { from, to });
            Ok(dir)
        })();
        match result {
            Ok(dir) => self.reply_entry(&dir, newname, reply),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let result = self.anchor(ino).and_then(|a| {
            let fd = sys::reopen(a.fd.as_raw_fd(), backing_flags(flags.0)).map_err(errno)?;
            Ok(self.new_handle(fd, a))
        });
        match result {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE),
            Err(e) => reply.error(e),
        }
    }

    fn create(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, _umask: u32, flags: i32, reply: ReplyCreate) {
        let (uid, gid) = (req.uid(), req.gid());
        let result = (|| -> Result<(u64, u64, libc::stat), Errno> {
            let p = self.anchor(parent)?;
            let dir = p.fd.as_raw_fd();
            let c = sys::cname(name);
            let open_flags = backing_flags(flags);
            let mut created = None;
            let made = self.change(&p, name, || {
                let fd = sys::openat(dir, &c, open_flags | libc::O_CREAT | libc::O_EXCL, mode & 0o7777)?;
                sys::fchown_fd(fd.as_raw_fd(), uid, gid)?;
                created = Some(fd);
                Ok(())
            }, |path| NsOp::Mknod { path, mode: libc::S_IFREG | (mode & 0o7777), rdev: 0, uid, gid });
            let fd = match (made, created) {
                (Ok(()), Some(fd)) => fd,
                // Someone created it first: an open, not a creation.
                (Err(e), _) if e.raw_os_error() == Some(libc::EEXIST) && flags & libc::O_EXCL == 0 => {
                    sys::openat(dir, &c, open_flags, 0).map_err(errno)?
                }
                (Err(e), _) => return Err(errno(e)),
                (Ok(()), None) => return Err(Errno::EIO),
            };
            let (ino, st) = self.lookup_in(&p, name).map_err(errno)?;
            let anchor = self.anchor(INodeNo(ino))?;
            Ok((ino, self.new_handle(fd, anchor), st))
        })();
        match result {
            Ok((ino, fh, st)) => {
                reply.created(&TTL, &attr(ino, &st), Generation(0), FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE)
            }
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let result = self.handle(fh).and_then(|h| {
            let mut buf = vec![0u8; size as usize];
            let n = sys::pread(h.fd.as_raw_fd(), &mut buf, offset).map_err(errno)?;
            buf.truncate(n);
            Ok(buf)
        });
        match result {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let result = self.handle(fh).and_then(|h| {
            let n = sys::pwrite(h.fd.as_raw_fd(), data, offset).map_err(errno)?;
            self.model().changed(&h.anchor, offset, offset + n as u64).map_err(errno)?;
            Ok(n)
        });
        match result {
            Ok(n) => reply.written(n as u32),
            Err(e) => reply.error(e),
        }
    }

    fn flush(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _lock_owner: LockOwner, reply: ReplyEmpty) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let handle = self.handles.write().unwrap_or_else(|p| p.into_inner()).remove(&fh.0);
        let mut result = Ok(());
        if let Some(handle) = handle {
            // ext4's auto_da_alloc: closing a file truncated to zero flushes it.
            let key = handle.anchor.key;
            let mut model = self.model();
            if model.truncated_to_zero(&key) {
                result = model.sync(&key);
            }
        }
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn fsync(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        let result = self.handle(fh).and_then(|h| self.sync_file(&h.anchor.key).map_err(errno));
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let result = self.anchor(ino).and_then(|a| {
            let fd = sys::reopen(a.fd.as_raw_fd(), libc::O_RDONLY | libc::O_DIRECTORY).map_err(errno)?;
            Ok(self.new_handle(fd, a))
        });
        match result {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let handle = match self.handle(fh) {
            Ok(h) => h,
            Err(e) => return reply.error(e),
        };
        let mut entries = handle.entries.lock().unwrap_or_else(|p| p.into_inner());
        if offset == 0 {
            // A listing from the start reads the directory afresh (rewinddir).
            match sys::read_dir_fd(&handle.fd) {
                Ok(listing) => {
                    *entries = vec![(b".".to_vec(), ino.0, FileType::Directory), (b"..".to_vec(), 1, FileType::Directory)];
                    entries.extend(listing.into_iter().map(|(name, i, mode)| (name, i, kind(mode))));
                }
                Err(e) => return reply.error(errno(e)),
            }
        }
        for (i, (name, entry_ino, entry_kind)) in entries.iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(*entry_ino), (i + 1) as u64, *entry_kind, OsStr::from_bytes(name)) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, _flags: OpenFlags, reply: ReplyEmpty) {
        self.handles.write().unwrap_or_else(|p| p.into_inner()).remove(&fh.0);
        reply.ok();
    }

    fn fsyncdir(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        self.model().commit();
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let fd = self.model().visible_fd();
        match sys::fstatvfs(fd) {
            Ok(s) => reply.statfs(
                s.f_blocks, s.f_bfree, s.f_bavail, s.f_files, s.f_ffree, s.f_bsize as u32,
                s.f_namemax as u32, s.f_frsize as u32,
            ),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn fallocate(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, offset: u64, length: u64, mode: i32, reply: ReplyEmpty) {
        let result = self.handle(fh).and_then(|h| {
            sys::fallocate(h.fd.as_raw_fd(), mode, offset, length).map_err(errno)?;
            self.model().changed(&h.anchor, offset, offset + length).map_err(errno)
        });
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn lseek(&self, _req: &Request, _ino: INodeNo, fh: FileHandle, offset: i64, whence: i32, reply: ReplyLseek) {
        let result = self.handle(fh).and_then(|h| sys::lseek(h.fd.as_raw_fd(), offset, whence).map_err(errno));
        match result {
            Ok(at) => reply.offset(at),
            Err(e) => reply.error(e),
        }
    }
}
