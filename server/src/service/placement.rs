//! Where a new VM goes (SPEC §13): the host the request names, else the enabled host with the
//! most free memory, among those that fit it.

use std::sync::Arc;

use app::error::{AppError, ErrorCode};
use app::types::CreateVmRequest;
use futures::future::join_all;

use super::{refused, ServiceError, VmService};
use crate::db::hosts as hosts_q;
use crate::host::{Capacity, Host};

/// A host that may take a new VM, with what it has now.
struct Candidate {
    host: Arc<Host>,
    capacity: Capacity,
}

impl VmService {
    pub(super) async fn place(&self, request: &CreateVmRequest) -> Result<Arc<Host>, ServiceError> {
        let rows = self.cx.db.run(hosts_q::host_list).await?;
        if let Some(key) = &request.host {
            let Some(row) = rows.iter().find(|row| &row.key == key) else {
                return Err(refused(AppError::new(
                    ErrorCode::HostNotFound,
                    format!("There is no host {key:?}."),
                )));
            };
            if !row.enabled {
                return Err(refused(AppError::new(
                    ErrorCode::InvalidState,
                    format!(
                        "The host {} is disabled: no new VM is placed on it.",
                        row.name
                    ),
                )));
            }
            return Ok(self.cx.hosts.get(key)?);
        }
        let enabled: Vec<Arc<Host>> = rows
            .into_iter()
            .filter(|row| row.enabled)
            .filter_map(|row| self.cx.hosts.get(&row.key).ok())
            // A host known to be down is not waited for.
            .filter(|host| host.unreachable().is_none())
            .collect();
        // One host (most installs): nothing to choose, nothing to ask.
        if let [only] = enabled.as_slice() {
            return Ok(Arc::clone(only));
        }
        let asked = enabled.into_iter().map(|host| async move {
            let capacity = host.capacity().await.ok()?;
            Some(Candidate { host, capacity })
        });
        let candidates: Vec<Candidate> = join_all(asked).await.into_iter().flatten().collect();
        choose(request, candidates).map_err(refused)
    }
}

/// The rule, without I/O: of the hosts whose machine is large enough for the VM, the one with
/// the most free memory; a VM that starts at once needs that memory free.
fn choose(request: &CreateVmRequest, candidates: Vec<Candidate>) -> Result<Arc<Host>, AppError> {
    if candidates.is_empty() {
        return Err(AppError::new(
            ErrorCode::HypervisorUnavailable,
            "No enabled host can be reached now; try again shortly.",
        ));
    }
    let most_free = candidates
        .into_iter()
        .filter(|c| c.capacity.cpus >= request.cpu && c.capacity.memory_mib >= request.memory)
        // A host that cannot say what is free comes last.
        .max_by_key(|c| c.capacity.free_memory_mib.map_or(0, |free| free + 1));
    // Free memory ranks the hosts; it does not refuse: libvirt's figure leaves out the page
    // cache, which a host gives back when a VM needs it.
    match most_free {
        Some(best) => Ok(best.host),
        None => Err(AppError::validation(format!(
            "No enabled host is large enough for {} vCPUs and {} MiB of memory.",
            request.cpu, request.memory
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DomainTypeSetting;
    use crate::host::HostKey;

    fn candidate(key: &str, cpus: u32, memory_mib: u64, free_memory_mib: u64) -> Candidate {
        Candidate {
            host: Host::new(
                HostKey::from(key),
                "test:///default",
                DomainTypeSetting::Auto,
            ),
            capacity: Capacity {
                cpus,
                memory_mib,
                free_memory_mib: Some(free_memory_mib),
            },
        }
    }

    fn request(cpu: u32, memory: u64, start: bool) -> CreateVmRequest {
        serde_json::from_value(serde_json::json!({
            "name": "x", "cpu": cpu, "memory": memory, "disk_size": 1, "start": start
        }))
        .unwrap()
    }

    #[test]
    fn the_host_with_the_most_free_memory_that_fits_takes_the_vm() {
        let hosts = || {
            vec![
                candidate("small", 2, 2048, 1900),
                candidate("busy", 16, 65536, 1000),
                candidate("roomy", 8, 16384, 12000),
            ]
        };
        let chosen = |r| choose(&r, hosts()).unwrap().key().to_string();
        assert_eq!(chosen(request(1, 512, true)), "roomy");
        // Only `busy` has 16 CPUs.
        assert_eq!(chosen(request(16, 512, false)), "busy");
        // A VM too large for every machine is refused in words.
        let refused = choose(&request(1, 1 << 20, false), hosts())
            .err()
            .expect("refused");
        assert_eq!(refused.code, ErrorCode::ValidationFailed);
        // The one large enough, whatever its free memory (free memory ranks, never refuses).
        assert_eq!(chosen(request(16, 4096, true)), "busy");
        let none = choose(&request(1, 512, false), Vec::new())
            .err()
            .expect("refused");
        assert_eq!(none.code, ErrorCode::HypervisorUnavailable);
    }
}
