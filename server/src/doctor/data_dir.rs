//! The data dir: there, with its `disks/`, `isos/` and `images/`, writable by Limen, and every
//! directory on the way traversable by the user QEMU runs as (or VMs fail to start with
//! "permission denied" on their disk).

use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::Check;

const SUBDIRS: [&str; 3] = ["disks", "isos", "images"];

pub fn check(data_dir: &Path, libvirt_uri: &str) -> Check {
    for dir in std::iter::once(data_dir.to_path_buf()).chain(SUBDIRS.map(|s| data_dir.join(s))) {
        match std::fs::metadata(&dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Check::failed("data_dir", "a data directory is not a directory")
                    .detail(dir.display().to_string())
                    .advice("move the file away; Limen makes the directory at start")
            }
            Err(error) => {
                return Check::failed("data_dir", "a data directory is missing or unreadable")
                    .detail(format!("{}: {error}", dir.display()))
                    .advice(format!(
                        "mkdir -p {0}/disks {0}/isos {0}/images && chmod 711 {0} {0}/*",
                        data_dir.display()
                    ))
            }
        }
        if !writable(&dir) {
            return Check::failed("data_dir", "Limen cannot write into a data directory")
                .detail(dir.display().to_string())
                .advice("run Limen as root (or as the directory's owner)");
        }
    }
    // Only a local QEMU opens these files; a remote host or the test driver never does.
    let local_qemu = libvirt_uri.starts_with("qemu:///") || libvirt_uri.starts_with("qemu+unix:");
    let Some(qemu) = local_qemu.then(QemuUser::find).flatten() else {
        return Check::ok("data_dir", "the data directories are in place")
            .detail(data_dir.display().to_string());
    };
    for sub in SUBDIRS {
        let target = data_dir.join(sub);
        if let Some(blocking) = qemu.first_closed(&target) {
            return Check::failed(
                "data_dir",
                format!(
                    "QEMU (user {}) cannot reach the VMs' files: VMs will fail to start",
                    qemu.name
                ),
            )
            .detail(format!(
                "{} needs the search (x) permission for {} on the way to {}",
                blocking.display(),
                qemu.name,
                target.display()
            ))
            .advice(format!("chmod o+x {}", blocking.display()));
        }
    }
    Check::ok(
        "data_dir",
        format!(
            "the data directories are in place and QEMU (user {}) can reach them",
            qemu.name
        ),
    )
    .detail(data_dir.display().to_string())
}

fn writable(dir: &Path) -> bool {
    let Ok(path) = CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: a NUL-terminated path; access() only reads it.
    unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// The user QEMU runs as: qemu.conf's `user`, else Debian's `libvirt-qemu`, else `qemu`.
struct QemuUser {
    name: String,
    uid: u32,
    groups: Vec<u32>,
}

impl QemuUser {
    fn find() -> Option<Self> {
        let configured = std::fs::read_to_string("/etc/libvirt/qemu.conf")
            .ok()
            .and_then(|text| {
                text.lines()
                    .map(str::trim)
                    .filter_map(|line| line.strip_prefix("user"))
                    .filter_map(|rest| rest.trim_start().strip_prefix('='))
                    .map(|value| {
                        value
                            .trim()
                            .trim_matches('"')
                            .trim_start_matches('+')
                            .to_string()
                    })
                    .next()
            });
        configured
            .into_iter()
            .chain(["libvirt-qemu".to_string(), "qemu".to_string()])
            .find_map(|name| Self::lookup(&name))
    }

    fn lookup(name: &str) -> Option<Self> {
        let c_name = CString::new(name).ok()?;
        // SAFETY: the reentrant lookups fill our own buffers (readyz may run this on several
        // threads at once); the pointers are read only while the buffers live.
        unsafe {
            let mut entry: libc::passwd = std::mem::zeroed();
            let mut found: *mut libc::passwd = std::ptr::null_mut();
            let mut buffer = vec![0 as libc::c_char; 16 * 1024];
            let status = libc::getpwnam_r(
                c_name.as_ptr(),
                &mut entry,
                buffer.as_mut_ptr(),
                buffer.len(),
                &mut found,
            );
            if status != 0 || found.is_null() {
                return None;
            }
            let (uid, gid) = (entry.pw_uid, entry.pw_gid);
            let mut count: libc::c_int = 64;
            let mut groups = vec![0 as libc::gid_t; count as usize];
            if libc::getgrouplist(c_name.as_ptr(), gid, groups.as_mut_ptr(), &mut count) < 0 {
                groups = vec![gid];
            } else {
                groups.truncate(count as usize);
            }
            Some(Self {
                name: name.to_string(),
                uid,
                groups,
            })
        }
    }

    /// The first directory from `/` to `target` (inclusive) this user may not pass through.
    fn first_closed(&self, target: &Path) -> Option<PathBuf> {
        if self.uid == 0 {
            return None;
        }
        let mut path = PathBuf::new();
        for part in target.components() {
            path.push(part);
            let Ok(meta) = std::fs::metadata(&path) else {
                return Some(path);
            };
            let mode = meta.mode();
            let allowed = if meta.uid() == self.uid {
                mode & 0o100 != 0
            } else if self.groups.contains(&meta.gid()) {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            };
            if !allowed {
                return Some(path);
            }
        }
        None
    }
}
