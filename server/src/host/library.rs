//! The ISO library (`data_dir/isos`) and the base-image library (`data_dir/images`): files a
//! person put there. A client names a file by its library name only; paths are refused, and the
//! canonical path must lie directly inside the library (no `..`, no symlink out of it).

use std::io;
use std::path::{Path, PathBuf};

use app::types::MediaFile;

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("{0}")]
    InvalidName(String),
    #[error("there is no {kind} named {name:?}")]
    NotFound { kind: &'static str, name: String },
    #[error("there is already a {kind} named {name:?}")]
    Exists { kind: &'static str, name: String },
    #[error("the filesystem of the {kind} library is full")]
    Full { kind: &'static str },
    #[error("cannot read or write the {kind} library {path}")]
    Io {
        kind: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

#[derive(Debug, Clone)]
pub struct Library {
    kind: &'static str,
    dir: PathBuf,
}

impl Library {
    pub fn isos(data_dir: &Path) -> io::Result<Self> {
        Self::open("ISO", data_dir.join("isos"))
    }

    pub fn images(data_dir: &Path) -> io::Result<Self> {
        Self::open("image", data_dir.join("images"))
    }

    fn open(kind: &'static str, dir: PathBuf) -> io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            kind,
            dir: dir.canonicalize()?,
        })
    }

    /// Removes uploads a stopped process left half-written (never complete, never visible).
    /// Only the server that holds the database's lock calls it, before it serves: another
    /// process (`limen reconcile` beside a server) must never take a running upload's file.
    pub fn remove_abandoned_uploads(&self) -> io::Result<()> {
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with(UPLOAD_PREFIX) {
                tracing::info!(file = ?name, "removing an upload left half-written");
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }

    fn io_error(&self) -> impl Fn(io::Error) -> LibraryError + '_ {
        |source| match source.raw_os_error() {
            Some(libc::ENOSPC | libc::EDQUOT) => LibraryError::Full { kind: self.kind },
            _ => LibraryError::Io {
                kind: self.kind,
                path: self.dir.clone(),
                source,
            },
        }
    }

    /// Starts writing a new file that will be called `name`: under a hidden temporary name,
    /// visible only once [`Incoming::publish`] renames it. Refused if the name is taken.
    pub async fn incoming(&self, name: &str) -> Result<Incoming, LibraryError> {
        check_name(self.kind, name)?;
        let target = self.dir.join(name);
        if tokio::fs::symlink_metadata(&target).await.is_ok() {
            return Err(self.exists(name));
        }
        let partial = self
            .dir
            .join(format!("{UPLOAD_PREFIX}{}", uuid::Uuid::new_v4()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .await
            .map_err(self.io_error())?;
        Ok(Incoming {
            library: self.clone(),
            name: name.to_string(),
            partial: Some(partial),
            file,
            written: 0,
        })
    }

    fn exists(&self, name: &str) -> LibraryError {
        LibraryError::Exists {
            kind: self.kind,
            name: name.to_string(),
        }
    }

    /// Deletes a file of the library by its name: that entry (a symbolic link itself, never
    /// what it points to).
    pub async fn remove(&self, name: &str) -> Result<(), LibraryError> {
        self.resolve(name).await?;
        tokio::fs::remove_file(self.dir.join(name))
            .await
            .map_err(self.io_error())
    }

    /// Where the library's files lie (for operations that write into it).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Regular files in the library, by name.
    pub async fn list(&self) -> Result<Vec<MediaFile>, LibraryError> {
        let io_error = |source| LibraryError::Io {
            kind: self.kind,
            path: self.dir.clone(),
            source,
        };
        let mut entries = tokio::fs::read_dir(&self.dir).await.map_err(io_error)?;
        let mut files = Vec::new();
        while let Some(entry) = entries.next_entry().await.map_err(io_error)? {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            if let Ok(path) = self.resolve(&name).await {
                let size = tokio::fs::metadata(&path)
                    .await
                    .map(|m| m.len())
                    .unwrap_or(0);
                files.push(MediaFile {
                    name,
                    size,
                    used_by: Vec::new(),
                });
            }
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }

    /// The file behind a library name.
    pub async fn resolve(&self, name: &str) -> Result<PathBuf, LibraryError> {
        check_name(self.kind, name)?;
        let not_found = || LibraryError::NotFound {
            kind: self.kind,
            name: name.to_string(),
        };
        let canonical = tokio::fs::canonicalize(self.dir.join(name))
            .await
            .map_err(|_| not_found())?;
        let is_file = tokio::fs::metadata(&canonical)
            .await
            .is_ok_and(|m| m.is_file());
        if canonical.parent() != Some(self.dir.as_path()) || !is_file {
            return Err(not_found());
        }
        Ok(canonical)
    }
}

/// An upload being written into a library: hidden (listing skips dot-files), and removed at
/// the next start if it was left half-written.
pub const UPLOAD_PREFIX: &str = ".upload-";

/// A copy an operation is writing into a library (a base image being made): hidden, and
/// removed by that operation's undo (at recovery, after a crash).
pub const COPY_PREFIX: &str = ".copy-";

/// A file being written into a library. Dropped before [`Incoming::publish`] (an error, a
/// client that went away, a cancelled operation), it is removed: nothing half-written ever
/// becomes visible.
pub struct Incoming {
    library: Library,
    name: String,
    partial: Option<PathBuf>,
    file: tokio::fs::File,
    written: u64,
}

impl Incoming {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), LibraryError> {
        use tokio::io::AsyncWriteExt;
        self.file
            .write_all(chunk)
            .await
            .map_err(self.library.io_error())?;
        self.written += chunk.len() as u64;
        Ok(())
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// The file as written so far, to read back (its header).
    pub fn partial_path(&self) -> &Path {
        self.partial.as_deref().expect("set until published")
    }

    /// Makes the complete file visible under its name, atomically, and never over another
    /// file of that name (a link cannot replace one; a rename could).
    pub async fn publish(mut self) -> Result<MediaFile, LibraryError> {
        use tokio::io::AsyncWriteExt;
        // tokio's file writes in the background: a failure of the last write (a full disk)
        // comes out of `flush`, not `sync_all`. And the file on disk must hold every byte.
        self.file.flush().await.map_err(self.library.io_error())?;
        self.file
            .sync_all()
            .await
            .map_err(self.library.io_error())?;
        let on_disk = self
            .file
            .metadata()
            .await
            .map_err(self.library.io_error())?
            .len();
        if on_disk != self.written {
            return Err(LibraryError::Full {
                kind: self.library.kind,
            });
        }
        let partial = self.partial.take().expect("set until published");
        let target = self.library.dir.join(&self.name);
        let linked = tokio::fs::hard_link(&partial, &target).await;
        let _ = tokio::fs::remove_file(&partial).await;
        match linked {
            Ok(()) => Ok(MediaFile {
                name: self.name.clone(),
                size: self.written,
                used_by: Vec::new(),
            }),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(self.library.exists(&self.name))
            }
            Err(e) => Err(self.library.io_error()(e)),
        }
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if let Some(partial) = self.partial.take() {
            // Synchronous: a drop cannot wait, and this is one unlink.
            let _ = std::fs::remove_file(partial);
        }
    }
}

fn check_name(kind: &str, name: &str) -> Result<(), LibraryError> {
    let invalid = |why: &str| {
        Err(LibraryError::InvalidName(format!(
            "Give the {kind} by its name in the library, not {why}."
        )))
    };
    if name.is_empty() || name.len() > 255 {
        return invalid("an empty or over-long name");
    }
    if name.contains('/') || name.contains('\\') {
        return invalid("a path");
    }
    if name.starts_with('.') || name.chars().any(char::is_control) {
        return invalid("a hidden or control-character name");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resolves_library_names_only() {
        let root = std::env::temp_dir().join(format!("limen-lib-{}", uuid::Uuid::new_v4()));
        let library = Library::isos(&root).unwrap();
        std::fs::write(root.join("isos/debian.iso"), b"iso").unwrap();
        std::fs::write(root.join("secret"), b"outside").unwrap();
        std::os::unix::fs::symlink(root.join("secret"), root.join("isos/escape.iso")).unwrap();
        std::fs::create_dir(root.join("isos/dir.iso")).unwrap();

        assert!(library.resolve("debian.iso").await.is_ok());
        for bad in [
            "../secret",
            "/etc/passwd",
            "a/b.iso",
            ".hidden",
            "",
            "x\0y",
            "x\ny",
        ] {
            assert!(
                matches!(
                    library.resolve(bad).await,
                    Err(LibraryError::InvalidName(_))
                ),
                "{bad:?}"
            );
        }
        for missing in ["nope.iso", "escape.iso", "dir.iso"] {
            assert!(
                matches!(
                    library.resolve(missing).await,
                    Err(LibraryError::NotFound { .. })
                ),
                "{missing}"
            );
        }
        let listed: Vec<_> = library
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(listed, ["debian.iso"]);
        std::fs::remove_dir_all(root).unwrap();
    }
}
