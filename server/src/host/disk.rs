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
    #[error("refusing to delete {path}: it is not inside the disk directory")]
    OutsideDiskDir { path: PathBuf },
    #[error("cannot delete {path}")]
    Remove {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
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

    /// A disk is named after the VM's UUID, never its name: user text never reaches a path.
    pub fn path_for(&self, id: Uuid) -> PathBuf {
        self.dir.join(format!("{id}.qcow2"))
    }

    /// Creates a blank qcow2 of `size_gib`. Fails if the file exists.
    pub async fn create_blank(&self, path: &Path, size_gib: u64) -> Result<(), DiskError> {
        // qemu-img would silently truncate an existing file.
        if tokio::fs::symlink_metadata(path).await.is_ok() {
            return Err(DiskError::Exists {
                path: path.to_path_buf(),
            });
        }
        let output = tokio::process::Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2"])
            .arg(path)
            .arg(format!("{size_gib}G"))
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
