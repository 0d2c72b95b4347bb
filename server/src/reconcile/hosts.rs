//! The registry of connections (`Hosts`) against the `hosts` table: at start, and at every
//! reconcile, so a host `limen host add` put in the table beside a running server is followed
//! from the next reconcile on.

use crate::context::Context;
use crate::db::hosts as q;
use crate::db::DbError;
use crate::host::HostKey;

/// Writes the local host's row first if `local_uri` is given (the configuration is its
/// truth), then adds every host of the table the registry lacks and removes every host the
/// table lost (never the local one).
pub async fn follow_table(cx: &Context, local_uri: Option<String>) -> Result<(), DbError> {
    if let Some(uri) = local_uri {
        cx.db
            .run(move |conn| q::host_ensure_local(conn, &uri))
            .await?;
    }
    let rows = cx.db.run(q::host_list).await?;
    for row in &rows {
        if !cx.hosts.contains(&row.key) {
            tracing::info!(host = %row.key, uri = %row.uri, "following a host of the hosts table");
            let host = cx.hosts.make(HostKey::from(row.key.as_str()), &row.uri);
            cx.hosts.add(host);
        }
    }
    for host in cx.hosts.all() {
        if !rows.iter().any(|row| row.key == host.key().as_str())
            && cx.hosts.remove(host.key().as_str()).is_some()
        {
            tracing::info!(host = %host.key(), "no longer following a host gone from the hosts table");
        }
    }
    Ok(())
}
