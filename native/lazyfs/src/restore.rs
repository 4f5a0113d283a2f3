//! Power failure and first start: making the visible tree what the durable tree says.
//!
//! A start after a stop (or a crash of the previous process) reads the touched paths
//! the previous process wrote down and puts each back as the durable tree has it:
//! removed from the visible tree if the durable tree has nothing there, copied over
//! otherwise, whole. Every path where the trees can differ was written down before it
//! changed, so afterwards they are equal; restoring a path that did not differ costs a
//! copy and changes nothing. The first start of a tree takes what the directory held
//! before it was mounted as durable, as if it had been written and synced long ago.

use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{lchown, symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::sys;

/// Put every path named in the `touched` file back as `durable` has it.
///
/// Returns how many paths were restored (ancestors first; a path under one already
/// restored is skipped, since that copy included it).
pub fn restore(visible: &Path, durable: &Path, touched: &Path) -> io::Result<usize> {
    let data = match fs::read(touched) {
        Ok(data) => data,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut paths: Vec<PathBuf> = data
        .split(|&b| b == 0)
        .filter(|entry| !entry.is_empty())
        .map(|entry| PathBuf::from(std::ffi::OsStr::from_bytes(entry)))
        .filter(|p| p.is_relative() && !p.components().any(|c| c.as_os_str() == ".."))
        .collect();
    paths.sort_by_key(|p| (p.components().count(), p.clone()));
    paths.dedup();
    let mut done: Vec<PathBuf> = Vec::new();
    for path in paths {
        if path.as_os_str().is_empty() || done.iter().any(|d| path.starts_with(d)) {
            continue;
        }
        reset(visible, durable, &path)?;
        done.push(path);
    }
    Ok(done.len())
}

/// Make `visible/rel` what `durable/rel` is (nothing, if it is nothing).
fn reset(visible: &Path, durable: &Path, rel: &Path) -> io::Result<()> {
    let target = visible.join(rel);
    match fs::symlink_metadata(&target) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(&target)?,
        Ok(_) => fs::remove_file(&target)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let source = durable.join(rel);
    if fs::symlink_metadata(&source).is_err() {
        return Ok(());
    }
    // The parents exist in the durable tree; make sure they do in the visible one.
    let mut prefix = PathBuf::new();
    for part in rel.parent().into_iter().flat_map(Path::components) {
        prefix.push(part);
        let dir = visible.join(&prefix);
        if !fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            if fs::symlink_metadata(&dir).is_ok() {
                fs::remove_file(&dir)?;
            }
            fs::create_dir(&dir)?;
            copy_metadata(&durable.join(&prefix), &dir)?;
        }
    }
    copy_tree(&source, &target)
}

/// Copy what `source` is (file, directory tree, symbolic link, fifo) to `target`,
/// which does not exist, keeping owners and modes, and holes in files.
pub fn copy_tree(source: &Path, target: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(source)?;
    let kind = meta.file_type();
    if kind.is_dir() {
        fs::create_dir(target)?;
        for entry in fs::read_dir(source)? {
            let entry = entry?;
            copy_tree(&entry.path(), &target.join(entry.file_name()))?;
        }
    } else if kind.is_symlink() {
        symlink(fs::read_link(source)?, target)?;
    } else if kind.is_file() {
        copy_file(source, target)?;
    } else {
        sys::mknodat(libc::AT_FDCWD, &sys::cpath(target), meta.mode(), meta.rdev())?;
    }
    copy_metadata(source, target)
}

fn copy_metadata(source: &Path, target: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(source)?;
    lchown(target, Some(meta.uid()), Some(meta.gid()))?;
    if !meta.file_type().is_symlink() {
        fs::set_permissions(target, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    Ok(())
}

/// Copy a regular file's data segments only, so holes stay holes.
fn copy_file(source: &Path, target: &Path) -> io::Result<()> {
    let from = fs::File::open(source)?;
    let to = fs::OpenOptions::new().write(true).create_new(true).open(target)?;
    let size = from.metadata()?.len();
    let (src, dst) = (from.as_raw_fd(), to.as_raw_fd());
    let mut buf = vec![0u8; 1 << 20];
    let mut offset: i64 = 0;
    while (offset as u64) < size {
        let data = match sys::lseek(src, offset, libc::SEEK_DATA) {
            Ok(at) => at,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => break,
            Err(e) => return Err(e),
        };
        let hole = sys::lseek(src, data, libc::SEEK_HOLE)?;
        let mut at = data as u64;
        while at < hole as u64 {
            let want = ((hole as u64 - at) as usize).min(buf.len());
            let n = sys::pread(src, &mut buf[..want], at)?;
            if n == 0 {
                break;
            }
            sys::pwrite_all(dst, &buf[..n], at)?;
            at += n as u64;
        }
        offset = hole;
    }
    sys::ftruncate(dst, size)
}

/// First start: move what `mountpoint` holds into both trees, and give their roots
/// the mount point's owner and mode.
pub fn import(mountpoint: &Path, visible: &Path, durable: &Path) -> io::Result<()> {
    for root in [visible, durable] {
        fs::create_dir_all(root)?;
        copy_metadata(mountpoint, root)?;
    }
    for entry in fs::read_dir(mountpoint)? {
        let entry = entry?;
        for root in [visible, durable] {
            copy_tree(&entry.path(), &root.join(entry.file_name()))?;
        }
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
        } else {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}
