//! Moving a domain to another host: live, by libvirt's migration over Limen's own connections
//! to both hosts (no host needs to reach the other's libvirt, only its migration port), or,
//! for a stopped domain, by its definition (defined there, undefined here).

use std::sync::Arc;

use uuid::Uuid;
use virt::domain::MigrateParameters;
use virt::sys;

use super::{lookup, lookup_if_any, Host, HostError};

/// How far a migration job is: bytes done of bytes to do (memory, and disks if copied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobProgress {
    pub processed: u64,
    pub total: u64,
}

impl JobProgress {
    /// Whole percent, below 100 until the job ends.
    pub fn percent(self) -> u8 {
        if self.total == 0 {
            return 0;
        }
        let percent = u128::from(self.processed) * 100 / u128::from(self.total);
        u8::try_from(percent.min(99)).unwrap_or(99)
    }
}

impl Host {
    /// Live-migrates the running domain to `destination`, which keeps its definition; this host
    /// forgets it once it runs there. The disks stay where they are: Limen's data dir is the
    /// same shared storage on every host (libvirt cannot tell, hence `UNSAFE`).
    pub async fn migrate_live(
        self: &Arc<Self>,
        id: Uuid,
        destination: &Arc<Host>,
    ) -> Result<(), HostError> {
        let destination = Arc::clone(destination);
        self.call(move |conn| {
            let domain = lookup(conn, id)?;
            let target = destination.connection()?;
            let flags = sys::VIR_MIGRATE_LIVE
                | sys::VIR_MIGRATE_PERSIST_DEST
                | sys::VIR_MIGRATE_UNDEFINE_SOURCE
                | sys::VIR_MIGRATE_UNSAFE;
            domain
                .migrate3(&target, MigrateParameters::default(), flags)
                .map(drop)
                .map_err(|e| HostError::from_virt("migrate the VM", e))
        })
        .await
    }

    /// The domain's running job (a migration), if one runs.
    pub async fn job_progress(
        self: &Arc<Self>,
        id: Uuid,
    ) -> Result<Option<JobProgress>, HostError> {
        self.call(move |conn| {
            let job = lookup(conn, id)?
                .job_info()
                .map_err(|e| HostError::from_virt("read the migration's progress", e))?;
            if job.r#type == sys::VIR_DOMAIN_JOB_NONE as i32 {
                return Ok(None);
            }
            Ok(Some(JobProgress {
                processed: job.data_processed.unwrap_or(0),
                total: job.data_total.unwrap_or(0),
            }))
        })
        .await
    }

    /// How many snapshots libvirt keeps of the domain (a domain with some is not migrated).
    pub async fn snapshot_count(self: &Arc<Self>, id: Uuid) -> Result<u32, HostError> {
        self.call(move |conn| {
            let count = lookup(conn, id)?
                .num_snapshots(0)
                .map_err(|e| HostError::from_virt("count the VM's snapshots", e))?;
            Ok(count)
        })
        .await
    }

    /// Undefines a stopped domain and nothing else: its disks and NVRAM stay (another host has
    /// its definition now). A domain that is gone is success; a running one is refused.
    pub async fn undefine_stopped(self: &Arc<Self>, id: Uuid) -> Result<(), HostError> {
        self.call(move |conn| {
            let Some(domain) = lookup_if_any(conn, id)? else {
                return Ok(());
            };
            if domain
                .is_active()
                .map_err(|e| HostError::from_virt("check the domain", e))?
            {
                return Err(HostError::Definition(
                    "the domain runs: it is not undefined".into(),
                ));
            }
            let keep = sys::VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | sys::VIR_DOMAIN_UNDEFINE_KEEP_NVRAM;
            let result = domain.undefine_flags(keep).or_else(|e| match e.code() {
                // Drivers without NVRAM (the test driver) refuse the flag.
                virt::enumutil::Enum::Known(
                    virt::error::ErrorNumber::InvalidArg | virt::error::ErrorNumber::NoSupport,
                ) => domain.undefine_flags(sys::VIR_DOMAIN_UNDEFINE_MANAGED_SAVE),
                _ => Err(e),
            });
            match result {
                Ok(()) => Ok(()),
                Err(e) => match HostError::from_virt("undefine the VM", e) {
                    HostError::NoDomain => Ok(()),
                    other => Err(other),
                },
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::JobProgress;

    #[test]
    fn progress_is_a_whole_percent_below_100_until_the_end() {
        let at = |processed, total| JobProgress { processed, total }.percent();
        assert_eq!(at(0, 0), 0);
        assert_eq!(at(50, 200), 25);
        assert_eq!(at(200, 200), 99);
        assert_eq!(at(u64::MAX, u64::MAX), 99);
    }
}
