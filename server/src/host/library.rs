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
    #[error("cannot read the {kind} library {path}")]
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
                files.push(MediaFile { name, size });
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
