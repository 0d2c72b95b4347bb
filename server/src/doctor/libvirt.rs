//! libvirt: reachable, and which driver answers.

use std::time::Duration;

use super::Check;
use crate::error::chain;
use crate::host::{probe, Hosts};

const PATIENCE: Duration = Duration::from_secs(15);

pub async fn check(uri: &str) -> Check {
    let owned = uri.to_string();
    let answer = tokio::time::timeout(
        PATIENCE,
        tokio::task::spawn_blocking(move || probe::probe(&owned)),
    )
    .await;
    let message = match answer {
        Ok(Ok(Ok(probe))) => {
            let hypervisor = probe
                .hypervisor_version
                .map(|v| format!(", hypervisor {v}"))
                .unwrap_or_default();
            return Check::ok(
                "libvirt",
                format!("libvirt answers: driver {}", probe.driver),
            )
            .detail(format!(
                "{uri}: libvirt {}{hypervisor}",
                probe.libvirt_version
            ));
        }
        Ok(Ok(Err(message))) => message,
        Ok(Err(join)) => join.to_string(),
        Err(_) => format!("no answer within {} s", PATIENCE.as_secs()),
    };
    let (summary, advice) = explain(uri, &message);
    Check::failed("libvirt", summary)
        .detail(format!("{uri}: {message}"))
        .advice(advice)
}

/// libvirt's message for a failed connection, turned into what it means and what to do.
fn explain(uri: &str, message: &str) -> (String, String) {
    let lower = message.to_lowercase();
    let local_daemon = uri.starts_with("qemu:///") || uri.starts_with("qemu+unix://");
    if lower.contains("no connection driver")
        || lower.contains("no such file or directory") && !local_daemon
    {
        (
            "libvirt has no driver for the configured URI".into(),
            "check libvirt_uri (e.g. qemu:///system, qemu+ssh://root@host/system)".into(),
        )
    } else if lower.contains("permission denied")
        || lower.contains("authentication")
        || lower.contains("polkit")
    {
        (
            "libvirt refuses Limen's user".into(),
            "run Limen as root, or as a user in the libvirt group (qemu:///system)".into(),
        )
    } else if local_daemon
        && (lower.contains("no such file or directory") || lower.contains("connection refused"))
    {
        (
            "libvirtd is not running".into(),
            "start it: systemctl start libvirtd (or, without systemd: virtlogd -d && libvirtd -d)"
                .into(),
        )
    } else if lower.contains("connection refused")
        || lower.contains("no route")
        || lower.contains("timed out")
        || lower.contains("no answer")
    {
        (
            "the libvirt host does not answer".into(),
            "check that the host is up, libvirtd runs there and the URI's address and port are right".into(),
        )
    } else {
        (
            "libvirt cannot be reached".into(),
            "see the message above; `virsh -c <libvirt_uri> version` shows the same".into(),
        )
    }
}

/// The local host's libvirt answers. Other hosts are not asked: one that is down makes its VMs
/// `unknown` (GET /api/v1/hosts says why) and must not take the whole server out of a load
/// balancer.
pub async fn readiness(hosts: &Hosts) -> Check {
    let host = hosts.local();
    if let Err(error) = host.ping().await {
        tracing::warn!(host = %host.key(), error = %chain(&error), "readiness: libvirt does not answer");
        return Check::failed("libvirt", "libvirt does not answer");
    }
    Check::ok("libvirt", "libvirt answers")
}

#[cfg(test)]
mod tests {
    use super::explain;

    #[test]
    fn a_missing_local_socket_means_the_daemon_is_not_running() {
        let (summary, _) = explain(
            "qemu:///system",
            "Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory",
        );
        assert_eq!(summary, "libvirtd is not running");
        let (summary, _) = explain(
            "bogus:///x",
            "no connection driver available for bogus:///x",
        );
        assert_eq!(summary, "libvirt has no driver for the configured URI");
    }
}
