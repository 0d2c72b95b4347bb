//! The host around Limen: free disk space, the clock, the listen address.

use std::net::SocketAddr;
use std::path::Path;

use super::Check;
use crate::host::node::filesystem_space;
use app::stats::disk_is_low;

pub fn disk_space(data_dir: &Path) -> Check {
    let Some((free, total)) = filesystem_space(data_dir) else {
        return Check::failed(
            "disk_space",
            "the data directory's free space cannot be read",
        )
        .detail(data_dir.display().to_string());
    };
    let detail = format!(
        "{}: {:.1} GiB free of {:.1} GiB",
        data_dir.display(),
        free as f64 / GIB,
        total as f64 / GIB
    );
    if free < 512 * 1024 * 1024 {
        Check::failed(
            "disk_space",
            "the data directory's disk is full: VMs' disks cannot grow",
        )
        .detail(detail)
        .advice("free space, or delete unused VMs, snapshots and ISOs")
    } else if disk_is_low(free, total) {
        Check::warning("disk_space", "the data directory's disk is running low")
            .detail(detail)
            .advice("free space, or delete unused VMs, snapshots and ISOs")
    } else {
        Check::ok("disk_space", "enough free disk space").detail(detail)
    }
}

const GIB: f64 = (1u64 << 30) as f64;

/// The clock: sessions, tokens and certificates expire by it, and the database's clock must
/// agree with ours.
pub fn clock(database_skew_secs: Option<f64>) -> Check {
    if let Some(skew) = database_skew_secs.filter(|skew| skew.abs() > 5.0) {
        return Check::warning("clock", "this host's clock and the database's disagree")
            .detail(format!("the database's clock is {skew:+.1} s off ours"))
            .advice("run NTP on both (systemctl enable --now systemd-timesyncd, or chrony)");
    }
    // SAFETY: an all-zero timex with modes 0 only reads the kernel's clock state.
    let mut timex: libc::timex = unsafe { std::mem::zeroed() };
    let state = unsafe { libc::adjtimex(&mut timex) };
    if state == libc::TIME_ERROR {
        Check::warning("clock", "the system clock is not synchronised (no NTP)")
            .detail("the kernel reports the clock as unsynchronised")
            .advice(
                "enable time synchronisation: systemctl enable --now systemd-timesyncd (or chrony)",
            )
    } else {
        Check::ok("clock", "the clock is synchronised")
    }
}

/// The listen address is free (or held by the Limen server on this database).
pub fn listen(address: SocketAddr, server_running: bool) -> Check {
    match std::net::TcpListener::bind(address) {
        Ok(_) => Check::ok("listen", "the listen address is free").detail(address.to_string()),
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse && server_running => {
            Check::ok("listen", "the Limen server is running there").detail(address.to_string())
        }
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => Check::failed(
            "listen",
            "another program already listens on the listen address",
        )
        .detail(format!("{address}: {error}"))
        .advice(format!(
            "find it with `ss -ltnp 'sport = :{}'`, or set another listen address",
            address.port()
        )),
        Err(error) => Check::failed("listen", "the listen address cannot be used")
            .detail(format!("{address}: {error}"))
            .advice("use an address of this host (0.0.0.0 for all); ports below 1024 need root"),
    }
}
