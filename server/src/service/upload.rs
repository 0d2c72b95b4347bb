//! ISOs uploaded into the library (SPEC §8): streamed to disk as they arrive (never held whole
//! in memory), checked to be ISO 9660 images, and made visible only when complete — an upload
//! that fails, is refused or is cut off leaves nothing in the library.

use app::auth::Principal;
use app::error::{AppError, ErrorCode};
use app::types::MediaFile;
use bytes::Bytes;
use futures::{Stream, StreamExt};

use super::{ServiceError, VmService};
use crate::audit::Entry;
use crate::error::report;
use crate::live::VmChange;

/// ISO 9660 volume descriptors start at sector 16 (byte 32,768); each begins with its type
/// byte, then `CD001`.
const SIGNATURE_AT: usize = 32_769;
const SIGNATURE: &[u8] = b"CD001";
const HEADER_LEN: usize = SIGNATURE_AT + SIGNATURE.len();

/// Whether the first bytes of a file are those of an ISO 9660 image.
pub(super) fn is_iso9660(header: &[u8]) -> bool {
    header.get(SIGNATURE_AT..HEADER_LEN) == Some(SIGNATURE)
}

/// An uploaded file's name: a library name ending in `.iso`.
fn check_upload_name(name: &str) -> Result<(), AppError> {
    if name.is_empty() {
        return Err(AppError::validation(
            "Name the ISO: POST /api/v1/isos?name=NAME.iso with the file as the body.",
        ));
    }
    let lower = name.to_ascii_lowercase();
    if !lower.ends_with(".iso") || lower.len() == 4 {
        return Err(AppError::validation(format!(
            "An ISO's name ends in \".iso\"; \"{name}\" does not."
        )));
    }
    Ok(())
}

fn too_large(limit: u64) -> AppError {
    AppError::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "The ISO is larger than the {} MiB an upload may bring (iso_upload_max_mb in the configuration).",
            limit >> 20
        ),
    )
}

fn not_an_iso() -> AppError {
    AppError::new(
        ErrorCode::NotAnIso,
        "This file is not an ISO 9660 image (no CD001 signature at byte 32,769); nothing was kept.",
    )
}

fn refused(error: AppError) -> ServiceError {
    ServiceError::Refused(error)
}

/// Bytes free for an unprivileged writer on the filesystem of `path`.
fn free_bytes(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a statvfs buffer of the right type.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
        return None;
    }
    #[allow(clippy::useless_conversion)] // the field types differ between targets
    let (available, fragment) = (u64::from(stats.f_bavail), u64::from(stats.f_frsize));
    Some(available.saturating_mul(fragment))
}

impl VmService {
    /// Receives an ISO named `name` (admins). `declared`: the length the client announced, if
    /// it did; a body longer than the limit is refused as soon as it is, whatever was declared.
    pub async fn upload_iso<S, E>(
        &self,
        caller: &Principal,
        name: String,
        declared: Option<u64>,
        body: S,
    ) -> Result<MediaFile, AppError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: std::fmt::Display,
    {
        if !caller.is_admin() {
            return Err(AppError::admin_only());
        }
        let entry = Entry::by(caller, "iso.upload").target(name.clone());
        let result = self.receive_iso(name, declared, body).await.map_err(report);
        let entry = match &result {
            Ok(file) => entry.detail(format!("{} bytes", file.size)),
            Err(_) => entry.outcome(&result),
        };
        self.audit.record(entry).await;
        if result.is_ok() {
            self.cx.bus.publish(VmChange::MediaChanged);
        }
        result
    }

    async fn receive_iso<S, E>(
        &self,
        name: String,
        declared: Option<u64>,
        mut body: S,
    ) -> Result<MediaFile, ServiceError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: std::fmt::Display,
    {
        check_upload_name(&name).map_err(refused)?;
        let limit = self.settings.iso_upload_max_bytes;
        if let Some(declared) = declared {
            if declared > limit {
                return Err(refused(too_large(limit)));
            }
            if free_bytes(self.cx.isos.dir()).is_some_and(|free| free < declared) {
                return Err(crate::host::library::LibraryError::Full { kind: "ISO" }.into());
            }
        }
        let mut incoming = self.cx.isos.incoming(&name).await?;
        let mut header = Vec::with_capacity(HEADER_LEN);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|error| {
                tracing::info!(%error, iso = %name, "an ISO upload was cut off");
                refused(AppError::validation(
                    "The upload was cut off before it was complete; nothing was kept.",
                ))
            })?;
            if incoming.written() + chunk.len() as u64 > limit {
                return Err(refused(too_large(limit)));
            }
            if header.len() < HEADER_LEN {
                let take = (HEADER_LEN - header.len()).min(chunk.len());
                header.extend_from_slice(&chunk[..take]);
                if header.len() == HEADER_LEN && !is_iso9660(&header) {
                    return Err(refused(not_an_iso()));
                }
            }
            incoming.write(&chunk).await?;
        }
        if let Some(declared) = declared {
            if incoming.written() != declared {
                return Err(refused(AppError::validation(
                    "The upload ended before the length it announced; nothing was kept.",
                )));
            }
        }
        if !is_iso9660(&header) {
            return Err(refused(not_an_iso()));
        }
        let file = incoming.publish().await?;
        tracing::info!(iso = %file.name, bytes = file.size, "ISO uploaded");
        Ok(file)
    }

    /// Removes uploads a stopped process left half-written (the serving process, holding the
    /// database's lock, before it serves).
    pub fn remove_abandoned_uploads(&self) -> std::io::Result<()> {
        self.cx.isos.remove_abandoned_uploads()
    }

    /// Deletes an ISO (admins), refused while any VM (anyone's) has it in its drive.
    pub(super) async fn remove_iso(
        &self,
        caller: Principal,
        name: String,
    ) -> Result<(), ServiceError> {
        if !caller.is_admin() {
            return Err(refused(AppError::admin_only()));
        }
        // Not there (or not a library name): said before anything else.
        self.cx.isos.resolve(&name).await?;
        let list = self.list_now().await?;
        let users: Vec<&str> = list
            .vms
            .iter()
            .filter(|vm| vm.current_media.as_deref() == Some(name.as_str()))
            .map(|vm| vm.name.as_str())
            .collect();
        if !users.is_empty() {
            return Err(refused(AppError::new(
                ErrorCode::MediaInUse,
                format!(
                    "\"{name}\" is in the CD-ROM drive of {}; eject it there first.",
                    users.join(", ")
                ),
            )));
        }
        self.cx.isos.remove(&name).await?;
        self.cx.bus.publish(VmChange::MediaChanged);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_an_iso_by_its_signature() {
        let mut header = vec![0u8; HEADER_LEN];
        assert!(!is_iso9660(&header));
        header[SIGNATURE_AT..].copy_from_slice(b"CD001");
        assert!(is_iso9660(&header));
        assert!(!is_iso9660(&header[..HEADER_LEN - 1]), "too short");
    }

    #[test]
    fn upload_names_are_isos() {
        assert!(check_upload_name("debian-12.iso").is_ok());
        assert!(check_upload_name("RESCUE.ISO").is_ok());
        for bad in ["debian.img", ".iso", "iso"] {
            assert!(check_upload_name(bad).is_err(), "{bad}");
        }
    }
}
