//! The disk directory: where VM system disks live, and the only place Limen ever deletes files.

use std::io;
use std::path::{Path, PathBuf};

use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("cannot prepare the disk directory {path}")]
    Dir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} already exists")]
    Exists { path: PathBuf },
    #[error("cannot run qemu-img")]
    Spawn(#[source] io::Error),
    #[error("qemu-img failed to create {path}: {stderr}")]
    QemuImg { path: PathBuf, stderr: String },
    #[error("the copy was cancelled")]
    Cancelled,
    #[error("refusing to delete {path}: it is not inside the disk directory")]
    OutsideDiskDir { path: PathBuf },
    #[error("cannot delete {path}")]
    Remove {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What `qemu-img info` says about an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// `qcow2`, `raw`, …
    pub format: String,
    /// Bytes the guest sees.
    pub virtual_size: u64,
    /// Bytes the image takes on the host.
    pub allocated_size: u64,
    /// The image this one is a copy-on-write overlay of.
    pub backing_file: Option<PathBuf>,
}

/// Reads an image's format and virtual size (never guessing from the file name).
pub async fn image_info(path: &Path) -> Result<ImageInfo, DiskError> {
    let output = tokio::process::Command::new("qemu-img")
        .args(["info", "--output=json", "-U"])
        .arg(path)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(DiskError::Spawn)?;
    let fail = |stderr: String| DiskError::QemuImg {
        path: path.to_path_buf(),
        stderr,
    };
    if !output.status.success() {
        return Err(fail(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    let info: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| fail(e.to_string()))?;
    Ok(ImageInfo {
        format: info["format"].as_str().unwrap_or("raw").to_string(),
        virtual_size: info["virtual-size"].as_u64().unwrap_or(0),
        allocated_size: info["actual-size"].as_u64().unwrap_or(0),
        backing_file: info["full-backing-filename"]
            .as_str()
            .or(info["backing-filename"].as_str())
            .map(PathBuf::from),
    })
}

/// Grows the qcow2 image at `path` (of a VM that is not running) to `bytes` of virtual size.
/// `qemu-img` refuses a shrink unless told to, and Limen never tells it. The format is given,
/// never probed (a probe would trust what a guest wrote into its disk).
pub async fn grow(path: &Path, bytes: u64) -> Result<(), DiskError> {
    let mut command = tokio::process::Command::new("qemu-img");
    command
        .args(["resize", "-q", "-f", "qcow2"])
        .arg(path)
        .arg(bytes.to_string());
    run_qemu_img(command, path).await
}

/// Runs a `qemu-img` command about the image at `path` to its end; its complaint (for the log)
/// if it fails.
async fn run_qemu_img(mut command: tokio::process::Command, path: &Path) -> Result<(), DiskError> {
    let output = command
        .kill_on_drop(true)
        .output()
        .await
        .map_err(DiskError::Spawn)?;
    if !output.status.success() {
        return Err(DiskError::QemuImg {
            path: path.to_path_buf(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// Copies the qcow2 image at `source` (its format given, never probed) into a new, standalone
/// qcow2 at `dest`, reading through its
/// backing chain (a full, flattened copy). `progress` hears the percentage as `qemu-img`
/// reports it; `bytes_per_s` limits its speed. Without `-U`: QEMU's image locking refuses the
/// copy of a disk a running VM writes to, and keeps the VM from starting while the copy reads
/// it. Cancelled (the process killed) when `cancel` is.
pub async fn flatten(
    source: &Path,
    dest: &Path,
    bytes_per_s: Option<u64>,
    mut progress: impl FnMut(f32) + Send,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(), DiskError> {
    use tokio::io::AsyncReadExt;
    let mut command = tokio::process::Command::new("qemu-img");
    command.args(["convert", "-p", "-f", "qcow2", "-O", "qcow2"]);
    if let Some(rate) = bytes_per_s {
        command.arg("-r").arg(rate.to_string());
    }
    let mut child = command
        .arg(source)
        .arg(dest)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(DiskError::Spawn)?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let read_progress = async {
        let mut buffer = [0u8; 512];
        let mut line = Vec::new();
        loop {
            let read = stdout.read(&mut buffer).await.unwrap_or(0);
            if read == 0 {
                return;
            }
            for &byte in &buffer[..read] {
                if byte == b'\r' || byte == b'\n' {
                    if let Some(percent) = progress_of(&String::from_utf8_lossy(&line)) {
                        progress(percent);
                    }
                    line.clear();
                } else {
                    line.push(byte);
                }
            }
        }
    };
    let mut errors = String::new();
    let finished = async {
        let ((), _, status) = tokio::join!(
            read_progress,
            stderr.read_to_string(&mut errors),
            child.wait()
        );
        status
    };
    let status = tokio::select! {
        () = cancel.cancelled() => return Err(DiskError::Cancelled),
        status = finished => status.map_err(DiskError::Spawn)?,
    };
    if !status.success() {
        return Err(DiskError::QemuImg {
            path: dest.to_path_buf(),
            stderr: errors.trim().to_string(),
        });
    }
    Ok(())
}

/// The percentage in one of `qemu-img -p`'s progress lines, `    (12.34/100%)`.
fn progress_of(line: &str) -> Option<f32> {
    let inner = line.trim().strip_prefix('(')?.strip_suffix("/100%)")?;
    inner.parse().ok()
}

/// `qemu-img create` of a qcow2 at `path`, blank or backed by `backing` (path, format).
async fn create_qcow2(
    path: &Path,
    backing: Option<(&Path, &str)>,
    size_gib: u64,
) -> Result<(), DiskError> {
    // qemu-img would silently truncate an existing file.
    if tokio::fs::symlink_metadata(path).await.is_ok() {
        return Err(DiskError::Exists {
            path: path.to_path_buf(),
        });
    }
    let mut command = tokio::process::Command::new("qemu-img");
    command.args(["create", "-q", "-f", "qcow2"]);
    if let Some((base, format)) = backing {
        command.args(["-F", format, "-b"]).arg(base);
    }
    command.arg(path).arg(format!("{size_gib}G"));
    run_qemu_img(command, path).await
}

#[derive(Debug, Clone)]
pub struct DiskStore {
    dir: PathBuf,
}

impl DiskStore {
    /// `data_dir/disks`, created if missing (readable by the QEMU user: 0755 under the umask).
    pub fn open(data_dir: &Path) -> Result<Self, DiskError> {
        let dir = data_dir.join("disks");
        std::fs::create_dir_all(&dir).map_err(|source| DiskError::Dir {
            path: dir.clone(),
            source,
        })?;
        let dir = dir.canonicalize().map_err(|source| DiskError::Dir {
            path: dir.clone(),
            source,
        })?;
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every regular file directly in the disk directory: name, path and size.
    pub async fn files(&self) -> std::io::Result<Vec<(String, PathBuf, u64)>> {
        let mut entries = tokio::fs::read_dir(&self.dir).await?;
        let mut out = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            let metadata = entry.metadata().await?;
            if metadata.is_file() {
                let name = entry.file_name().to_string_lossy().into_owned();
                out.push((name, entry.path(), metadata.len()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The disk at `path` if Limen created it: directly inside the disk directory (a qcow2, as
    /// Limen makes them). An adopted VM's disk is its own: its format is not Limen's to guess.
    pub fn own<'a>(&self, path: &'a str) -> Option<&'a Path> {
        let path = Path::new(path);
        (path.parent() == Some(self.dir.as_path())).then_some(path)
    }

    /// A disk is named after the VM's UUID, never its name: user text never reaches a path.
    pub fn path_for(&self, id: Uuid) -> PathBuf {
        self.dir.join(format!("{id}.qcow2"))
    }

    /// Creates a blank qcow2 of `size_gib`. Fails if the file exists.
    pub async fn create_blank(&self, path: &Path, size_gib: u64) -> Result<(), DiskError> {
        create_qcow2(path, None, size_gib).await
    }

    /// Creates a qcow2 overlay of `size_gib` on the base image `base`: copy-on-write, the base is
    /// only ever read. Fails if the file exists.
    pub async fn create_overlay(
        &self,
        base: &Path,
        base_format: &str,
        path: &Path,
        size_gib: u64,
    ) -> Result<(), DiskError> {
        create_qcow2(path, Some((base, base_format)), size_gib).await
    }

    /// Deletes a disk file. "Already gone" is success. Anything whose canonical path is not
    /// directly inside the disk directory is refused, whatever the database says.
    pub async fn remove(&self, path: &Path) -> Result<(), DiskError> {
        let canonical = match tokio::fs::canonicalize(path).await {
            Ok(canonical) => canonical,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(DiskError::Remove {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        if canonical.parent() != Some(self.dir.as_path()) {
            return Err(DiskError::OutsideDiskDir {
                path: path.to_path_buf(),
            });
        }
        match tokio::fs::remove_file(&canonical).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(DiskError::Remove {
                path: path.to_path_buf(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_store() -> (PathBuf, DiskStore) {
        let root = std::env::temp_dir().join(format!("limen-disk-{}", Uuid::new_v4()));
        let store = DiskStore::open(&root).unwrap();
        (root, store)
    }

    #[tokio::test]
    async fn creates_and_removes_a_qcow2() {
        let (root, store) = temp_store();
        let path = store.path_for(Uuid::new_v4());
        store.create_blank(&path, 1).await.unwrap();
        let header = std::fs::read(&path).unwrap();
        assert_eq!(&header[..4], b"QFI\xfb", "qcow2 magic");
        // Creating over an existing file fails rather than clobbering it.
        assert!(store.create_blank(&path, 1).await.is_err());
        store.remove(&path).await.unwrap();
        assert!(!path.exists());
        // Already gone is fine.
        store.remove(&path).await.unwrap();
        std::fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn overlays_read_their_base_and_report_it() {
        let (root, store) = temp_store();
        let base = root.join("base.qcow2");
        store.create_blank(&base, 1).await.unwrap();
        let info = image_info(&base).await.unwrap();
        assert_eq!(
            (info.format.as_str(), info.virtual_size, &info.backing_file),
            ("qcow2", 1 << 30, &None)
        );
        let overlay = store.path_for(Uuid::new_v4());
        store
            .create_overlay(&base, &info.format, &overlay, 2)
            .await
            .unwrap();
        let output = std::process::Command::new("qemu-img")
            .args(["info", "--output=json"])
            .arg(&overlay)
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(json["backing-filename"], base.to_string_lossy().as_ref());
        assert_eq!(json["virtual-size"], 2u64 << 30);
        let overlay_info = image_info(&overlay).await.unwrap();
        assert_eq!(overlay_info.backing_file.as_deref(), Some(base.as_path()));
        assert!(overlay_info.allocated_size > 0);
        grow(&overlay, 3 << 30).await.unwrap();
        assert_eq!(image_info(&overlay).await.unwrap().virtual_size, 3 << 30);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn reads_qemu_imgs_progress_lines() {
        assert_eq!(progress_of("    (12.34/100%)"), Some(12.34));
        assert_eq!(progress_of("(100.00/100%)"), Some(100.0));
        assert_eq!(progress_of("qemu-img: error"), None);
    }

    #[tokio::test]
    async fn a_flattened_copy_stands_alone_and_can_be_cancelled() {
        let (root, store) = temp_store();
        let base = root.join("base.qcow2");
        store.create_blank(&base, 1).await.unwrap();
        let overlay = store.path_for(Uuid::new_v4());
        store
            .create_overlay(&base, "qcow2", &overlay, 2)
            .await
            .unwrap();
        let copy = root.join("copy.qcow2");
        let mut seen = Vec::new();
        let token = tokio_util::sync::CancellationToken::new();
        flatten(&overlay, &copy, None, |p| seen.push(p), &token)
            .await
            .unwrap();
        let info = image_info(&copy).await.unwrap();
        assert_eq!((info.virtual_size, info.backing_file), (2 << 30, None));
        assert_eq!(seen.last(), Some(&100.0), "{seen:?}");

        let cancelled = tokio_util::sync::CancellationToken::new();
        cancelled.cancel();
        let again = root.join("again.qcow2");
        assert!(matches!(
            flatten(&overlay, &again, None, |_| {}, &cancelled).await,
            Err(DiskError::Cancelled)
        ));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn never_deletes_outside_the_disk_directory() {
        let (root, store) = temp_store();
        let outside = root.join("precious.qcow2");
        std::fs::write(&outside, b"keep me").unwrap();
        let traversal = store.dir().join("../precious.qcow2");
        assert!(matches!(
            store.remove(&traversal).await,
            Err(DiskError::OutsideDiskDir { .. })
        ));
        let link = store.dir().join("link.qcow2");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        assert!(matches!(
            store.remove(&link).await,
            Err(DiskError::OutsideDiskDir { .. })
        ));
        assert!(outside.exists());
        std::fs::remove_dir_all(root).unwrap();
    }
}
