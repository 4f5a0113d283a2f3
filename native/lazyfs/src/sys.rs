//! Thin, checked wrappers of the system calls the file system makes.
//!
//! Everything works on file descriptors and paths relative to a directory descriptor
//! (the `*at` calls), so that a tree can be served and replayed without ever building
//! an absolute path, and a file keeps being reachable through its descriptor when it
//! is renamed.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A path as a C string; the empty path (the root itself) becomes ".".
pub fn cpath(path: &Path) -> CString {
    let bytes = path.as_os_str().as_bytes();
    CString::new(if bytes.is_empty() { b"." as &[u8] } else { bytes }).expect("no NUL in a path")
}

pub fn cname(name: &OsStr) -> CString {
    CString::new(name.as_bytes()).expect("no NUL in a file name")
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn check_size(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// The magic link through which a descriptor (also an `O_PATH` one) can be reopened.
pub fn proc_fd(fd: RawFd) -> CString {
    CString::new(format!("/proc/self/fd/{fd}")).expect("no NUL")
}

pub fn openat(dir: RawFd, path: &CString, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let fd = check(unsafe { libc::openat(dir, path.as_ptr(), flags | libc::O_CLOEXEC, mode) })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Open the file a descriptor names again, with other flags.
pub fn reopen(fd: RawFd, flags: i32) -> io::Result<OwnedFd> {
    openat(libc::AT_FDCWD, &proc_fd(fd), flags, 0)
}

pub fn fstat(fd: RawFd) -> io::Result<libc::stat> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(st)
}

pub fn fstatat(dir: RawFd, path: &CString) -> io::Result<libc::stat> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstatat(dir, path.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(st)
}

pub fn mkdirat(dir: RawFd, path: &CString, mode: u32) -> io::Result<()> {
    check(unsafe { libc::mkdirat(dir, path.as_ptr(), mode) }).map(drop)
}

pub fn mknodat(dir: RawFd, path: &CString, mode: u32, rdev: u64) -> io::Result<()> {
    check(unsafe { libc::mknodat(dir, path.as_ptr(), mode, rdev) }).map(drop)
}

pub fn symlinkat(target: &CString, dir: RawFd, path: &CString) -> io::Result<()> {
    check(unsafe { libc::symlinkat(target.as_ptr(), dir, path.as_ptr()) }).map(drop)
}

pub fn linkat(from_dir: RawFd, from: &CString, to_dir: RawFd, to: &CString, flags: i32) -> io::Result<()> {
    check(unsafe { libc::linkat(from_dir, from.as_ptr(), to_dir, to.as_ptr(), flags) }).map(drop)
}

pub fn unlinkat(dir: RawFd, path: &CString, flags: i32) -> io::Result<()> {
    check(unsafe { libc::unlinkat(dir, path.as_ptr(), flags) }).map(drop)
}

pub fn renameat2(from_dir: RawFd, from: &CString, to_dir: RawFd, to: &CString, flags: u32) -> io::Result<()> {
    check(unsafe { libc::renameat2(from_dir, from.as_ptr(), to_dir, to.as_ptr(), flags) }).map(drop)
}

pub fn fchownat(dir: RawFd, path: &CString, uid: u32, gid: u32) -> io::Result<()> {
    check(unsafe { libc::fchownat(dir, path.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) }).map(drop)
}

/// chown of the file a descriptor names (also an `O_PATH` one, and a symbolic link).
pub fn fchown_fd(fd: RawFd, uid: u32, gid: u32) -> io::Result<()> {
    let empty = CString::new("").expect("no NUL");
    let flags = libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW;
    check(unsafe { libc::fchownat(fd, empty.as_ptr(), uid, gid, flags) }).map(drop)
}

pub fn fchmodat(dir: RawFd, path: &CString, mode: u32) -> io::Result<()> {
    check(unsafe { libc::fchmodat(dir, path.as_ptr(), mode, 0) }).map(drop)
}

pub fn readlinkat(dir: RawFd, path: &CString) -> io::Result<PathBuf> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    let n = check_size(unsafe {
        libc::readlinkat(dir, path.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
    })?;
    buf.truncate(n);
    Ok(PathBuf::from(OsStr::from_bytes(&buf)))
}

pub fn pread(fd: RawFd, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    check_size(unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), offset as i64) })
}

/// Write all of `data` at `offset`.
pub fn pwrite_all(fd: RawFd, mut data: &[u8], mut offset: u64) -> io::Result<()> {
    while !data.is_empty() {
        let n = check_size(unsafe { libc::pwrite(fd, data.as_ptr().cast(), data.len(), offset as i64) })?;
        data = &data[n..];
        offset += n as u64;
    }
    Ok(())
}

pub fn pwrite(fd: RawFd, data: &[u8], offset: u64) -> io::Result<usize> {
    check_size(unsafe { libc::pwrite(fd, data.as_ptr().cast(), data.len(), offset as i64) })
}

pub fn ftruncate(fd: RawFd, size: u64) -> io::Result<()> {
    check(unsafe { libc::ftruncate(fd, size as i64) }).map(drop)
}

pub fn fallocate(fd: RawFd, mode: i32, offset: u64, length: u64) -> io::Result<()> {
    check(unsafe { libc::fallocate(fd, mode, offset as i64, length as i64) }).map(drop)
}

pub fn lseek(fd: RawFd, offset: i64, whence: i32) -> io::Result<i64> {
    let ret = unsafe { libc::lseek(fd, offset, whence) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Set access and modification times (`None` leaves one as it is) of what `fd` names.
pub fn utimens_fd(fd: RawFd, atime: Option<libc::timespec>, mtime: Option<libc::timespec>) -> io::Result<()> {
    let omit = libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT };
    let times = [atime.unwrap_or(omit), mtime.unwrap_or(omit)];
    check(unsafe { libc::utimensat(libc::AT_FDCWD, proc_fd(fd).as_ptr(), times.as_ptr(), 0) }).map(drop)
}

pub fn fstatvfs(fd: RawFd) -> io::Result<libc::statvfs> {
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstatvfs(fd, &mut st) })?;
    Ok(st)
}

/// The entries of a directory (without "." and ".."): name, inode number, type bits.
pub fn read_dir_fd(fd: &OwnedFd) -> io::Result<Vec<(Vec<u8>, u64, u32)>> {
    let dup = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) })?;
    let dir = unsafe { libc::fdopendir(dup) };
    if dir.is_null() {
        let e = io::Error::last_os_error();
        unsafe { libc::close(dup) };
        return Err(e);
    }
    unsafe { libc::rewinddir(dir) };
    let mut out = Vec::new();
    loop {
        let entry = unsafe { libc::readdir64(dir) };
        if entry.is_null() {
            break;
        }
        let entry = unsafe { &*entry };
        let name = unsafe { std::ffi::CStr::from_ptr(entry.d_name.as_ptr()) }.to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let kind = match entry.d_type {
            libc::DT_DIR => libc::S_IFDIR,
            libc::DT_LNK => libc::S_IFLNK,
            libc::DT_FIFO => libc::S_IFIFO,
            libc::DT_SOCK => libc::S_IFSOCK,
            libc::DT_CHR => libc::S_IFCHR,
            libc::DT_BLK => libc::S_IFBLK,
            _ => libc::S_IFREG,
        };
        out.push((name.to_vec(), entry.d_ino, kind));
    }
    unsafe { libc::closedir(dir) };
    Ok(out)
}

pub fn umount_detach(path: &Path) -> io::Result<()> {
    check(unsafe { libc::umount2(cpath(path).as_ptr(), libc::MNT_DETACH) }).map(drop)
}

/// Bind-mount `path` onto itself and make it a shared mount.
///
/// Mounts made later on top of it then propagate into every mount namespace that was
/// copied from this one as a slave, which is how the local runtime's nodes (each
/// process started by `ip netns exec` gets a private slave copy of the mount table)
/// see the file system come and go even when they started before it was mounted.
pub fn bind_shared(path: &Path) -> io::Result<()> {
    let p = cpath(path);
    check(unsafe { libc::mount(p.as_ptr(), p.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null()) })?;
    make_shared(path)
}

pub fn make_shared(path: &Path) -> io::Result<()> {
    let none = CString::new("none").expect("no NUL");
    let p = cpath(path);
    check(unsafe { libc::mount(none.as_ptr(), p.as_ptr(), std::ptr::null(), libc::MS_SHARED, std::ptr::null()) })
        .map(drop)
}

pub fn raise_fd_limit() {
    let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur = limit.rlim_max;
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    }
}
