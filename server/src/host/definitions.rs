//! Domain definitions as whole XML documents, for `limen backup` (read) and `limen restore`
//! (define those the host lost).

use std::sync::Arc;

use uuid::Uuid;
use virt::sys;

use super::{lookup, Host, HostError};

impl Host {
    /// The persistent definition (what the next start uses), with the secrets a re-define needs
    /// (VNC passwords). `HostError::NoDomain` if there is none.
    pub async fn persistent_xml(self: &Arc<Self>, id: Uuid) -> Result<String, HostError> {
        self.call(move |conn| {
            lookup(conn, id)?
                .xml_desc(sys::VIR_DOMAIN_XML_INACTIVE | sys::VIR_DOMAIN_XML_SECURE)
                .map_err(|e| HostError::from_virt("read the domain definition", e))
        })
        .await
    }

    /// Whether a domain with this UUID is defined.
    pub async fn domain_exists(self: &Arc<Self>, id: Uuid) -> Result<bool, HostError> {
        match self.call(move |conn| lookup(conn, id).map(drop)).await {
            Ok(()) => Ok(true),
            Err(HostError::NoDomain) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// Defines a domain from a whole XML document (a backup's).
    pub async fn define_xml(self: &Arc<Self>, xml: String) -> Result<(), HostError> {
        self.call(move |conn| {
            conn.define_domain_xml(&xml)
                .map(drop)
                .map_err(|e| HostError::from_virt("define the VM", e))
        })
        .await
    }
}
