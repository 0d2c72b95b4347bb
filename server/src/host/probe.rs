//! A one-off connection to a libvirt URI that says what answers there (`limen doctor`): no
//! events, no keepalive, closed at once.

use virt::connect::Connect;

/// What a libvirt URI leads to.
#[derive(Debug, Clone)]
pub struct Probe {
    /// libvirt's name for the driver (`QEMU`, `Test`).
    pub driver: String,
    /// libvirt's version as `major.minor.micro`.
    pub libvirt_version: String,
    /// The hypervisor's version (QEMU's), when the driver has one.
    pub hypervisor_version: Option<String>,
}

/// Opens `uri`, asks, closes. Blocking: run it off the async runtime. The error is libvirt's
/// own message (for an admin at the host's shell, never for a browser).
pub fn probe(uri: &str) -> Result<Probe, String> {
    virt::error::clear_error_callback();
    let conn = Connect::open(Some(uri)).map_err(|e| e.message().to_string())?;
    let result = (|| {
        let driver = conn.driver_type().map_err(|e| e.message().to_string())?;
        let libvirt_version = conn
            .lib_version()
            .map(version_text)
            .map_err(|e| e.message().to_string())?;
        let hypervisor_version = conn.hyp_version().ok().filter(|v| *v > 0).map(version_text);
        Ok(Probe {
            driver,
            libvirt_version,
            hypervisor_version,
        })
    })();
    // Dropping the connection closes it.
    drop(conn);
    result
}

/// libvirt encodes versions as major * 1,000,000 + minor * 1,000 + micro.
fn version_text(version: u32) -> String {
    format!(
        "{}.{}.{}",
        version / 1_000_000,
        version / 1_000 % 1_000,
        version % 1_000
    )
}
