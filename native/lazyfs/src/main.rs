//! labrys-lazyfs: a directory that loses what was never fsynced when the power fails.
//!
//! Usage:
//!   `labrys-lazyfs --state DIR --mountpoint DIR [--threads N]`   serve (one boot)
//!   `labrys-lazyfs --unmount --mountpoint DIR`                   detach for good
//!
//! One serving process is one mount, and one mount is one boot of the simulated
//! machine:
//!
//! 1. At start it makes the visible tree what the durable tree holds (`restore`), or,
//!    the first time, takes what the mount point holds as durable (`restore::import`).
//! 2. It mounts the file system on the mount point and prints `{"event": "mounted"}`.
//!    The first start also bind-mounts the mount point onto itself as a shared mount,
//!    and later starts mount on that same bind, so that processes in other mount
//!    namespaces copied from this one (every process of a local node: `ip netns exec`
//!    gives each a private, slave copy of the mount table) see each new boot's file
//!    system appear, even those that started before it.
//! 3. On SIGUSR1 it syncs everything, as `sync(1)` would, and prints `{"event":
//!    "synced", …}` with what that was (so a database's set-up can count as settled).
//! 4. On SIGTERM, SIGINT or SIGHUP -- the power failure -- it prints what was unsynced
//!    (`{"event": "stopped", "unsynced_files": …, "unsynced_bytes": …,
//!    "uncommitted_namespace_ops": …}`), detaches the file system and exits at once,
//!    without syncing anything. A process still using it gets ENOTCONN, as it would
//!    get nothing from a machine without power. After SIGKILL the durable state is the
//!    same; the dead mount stays until the next start or `--unmount` detaches it.
//!
//! `--unmount` detaches everything mounted on the mount point, the bind included.
//! The state directory holds `visible/`, `durable/` and `touched` (see `model` and
//! `restore`). Each line this program prints is one JSON object.

mod fs;
mod model;
mod restore;
mod sys;

use std::path::{Path, PathBuf};
use std::process::exit;
use std::sync::{Arc, Mutex};

use fuser::{Config, MountOption, SessionACL};

struct Args {
    state: Option<PathBuf>,
    mountpoint: PathBuf,
    threads: usize,
    unmount: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut state, mut mountpoint, mut threads, mut unmount) = (None, None, 2usize, false);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--state" => state = Some(PathBuf::from(value()?)),
            "--mountpoint" => mountpoint = Some(PathBuf::from(value()?)),
            "--unmount" => unmount = true,
            "--threads" => threads = value()?.parse().map_err(|_| "--threads needs a number".to_string())?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let mountpoint: PathBuf = mountpoint.ok_or("--mountpoint DIR is required")?;
    if state.is_none() && !unmount {
        return Err("--state DIR is required".to_string());
    }
    // The mount point may be a dead mount, which cannot be resolved: resolve its parent.
    let parent = mountpoint.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = mountpoint.file_name().ok_or("--mountpoint needs a directory name")?;
    let parent = std::fs::canonicalize(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    Ok(Args { state, mountpoint: parent.join(name), threads: threads.max(1), unmount })
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn fail(what: &str, error: impl std::fmt::Display) -> ! {
    let message = format!("{what}: {error}");
    println!("{{\"event\": \"error\", \"message\": {}}}", json_string(&message));
    eprintln!("labrys-lazyfs: {message}");
    exit(1)
}

/// The file system types mounted on `path`, bottom first, from /proc/self/mountinfo.
fn mounts_on(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let wanted = path.to_string_lossy();
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            let fstype = right.split(' ').next()?;
            (unescape(point) == wanted).then(|| fstype.to_string())
        })
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as octal escapes.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            out.push(u8::from_str_radix(&field[i + 1..i + 4], 8).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Detach the FUSE mounts on `path` (a dead one left by a killed predecessor), and,
/// with `everything`, whatever else is there (the shared bind).
fn detach(path: &Path, everything: bool) {
    while let Some(top) = mounts_on(path).pop() {
        if !everything && !top.starts_with("fuse") {
            break;
        }
        if let Err(e) = sys::umount_detach(path) {
            fail("unmount", e);
        }
    }
}

/// The shared bind mount every boot mounts on (see the module docstring).
fn ensure_shared_bind(path: &Path) -> std::io::Result<()> {
    if mounts_on(path).is_empty() {
        sys::bind_shared(path)
    } else {
        sys::make_shared(path)
    }
}

fn termination_signals() -> libc::sigset_t {
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR1] {
            libc::sigaddset(&mut set, sig);
        }
    }
    set
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| fail("usage", e));
    if args.unmount {
        detach(&args.mountpoint, true);
        println!("{{\"event\": \"unmounted\"}}");
        return;
    }
    let state = args.state.clone().unwrap_or_default();
    // Modes are exactly what callers ask for, in both trees.
    unsafe { libc::umask(0) };
    sys::raise_fd_limit();
    // Blocked before any thread starts, so only the main thread's sigwait sees them.
    let signals = termination_signals();
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &signals, std::ptr::null_mut()) };

    let visible = state.join("visible");
    let durable = state.join("durable");
    let touched = state.join("touched");
    detach(&args.mountpoint, false);
    std::fs::create_dir_all(&args.mountpoint).unwrap_or_else(|e| fail("mount point", e));
    let restored = if visible.exists() {
        restore::restore(&visible, &durable, &touched).unwrap_or_else(|e| fail("restore", e))
    } else {
        restore::import(&args.mountpoint, &visible, &durable).unwrap_or_else(|e| fail("import", e));
        0
    };
    let journal = model::Touched::create(&touched).unwrap_or_else(|e| fail("touched", e));
    let model = model::Model::new(&visible, &durable, journal).unwrap_or_else(|e| fail("state", e));
    let model = Arc::new(Mutex::new(model));
    println!("{{\"event\": \"restored\", \"paths\": {restored}}}");

    let filesystem = fs::LazyFs::new(Arc::clone(&model)).unwrap_or_else(|e| fail("state", e));
    ensure_shared_bind(&args.mountpoint).unwrap_or_else(|e| fail("bind mount", e));
    let mut config = Config::default();
    config.mount_options = vec![
        // The mount's source in /proc/self/mountinfo: `- fuse labrys-lazyfs`.
        MountOption::FSName("labrys-lazyfs".to_string()),
        MountOption::DefaultPermissions,
    ];
    // Databases run as their own users (PostgreSQL as postgres): allow_other.
    config.acl = SessionACL::All;
    config.n_threads = Some(args.threads);
    config.clone_fd = args.threads > 1;
    let session = fuser::Session::new(filesystem, &args.mountpoint, &config).unwrap_or_else(|e| fail("mount", e));
    let _background = session.spawn().unwrap_or_else(|e| {
        detach(&args.mountpoint, false);
        fail("serve", e)
    });
    println!("{{\"event\": \"mounted\", \"mountpoint\": {}}}", json_string(&args.mountpoint.to_string_lossy()));

    let mut sig: libc::c_int = 0;
    loop {
        unsafe { libc::sigwait(&signals, &mut sig) };
        if sig != libc::SIGUSR1 {
            break;
        }
        match model.lock().unwrap_or_else(|p| p.into_inner()).sync_all() {
            Ok(synced) => println!(
                "{{\"event\": \"synced\", \"files\": {}, \"bytes\": {}, \"namespace_ops\": {}}}",
                synced.files, synced.bytes, synced.namespace_ops
            ),
            Err(e) => println!("{{\"event\": \"error\", \"message\": {}}}", json_string(&format!("sync: {e}"))),
        }
    }
    let unsynced = model.lock().unwrap_or_else(|p| p.into_inner()).unsynced();
    println!(
        "{{\"event\": \"stopped\", \"signal\": {sig}, \"unsynced_files\": {}, \"unsynced_bytes\": {}, \
         \"uncommitted_namespace_ops\": {}}}",
        unsynced.files, unsynced.bytes, unsynced.namespace_ops
    );
    detach(&args.mountpoint, false);
    // Exit now: requests in flight are never answered, as on a machine that lost power.
    exit(0)
}
