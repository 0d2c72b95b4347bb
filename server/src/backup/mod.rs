//! `limen backup FILE` and `limen restore FILE`.
//!
//! The archive is a gzip'd tar:
//! - `manifest.json` first: format version, the release and database schema that made it, when,
//!   every table with its row count, every domain definition;
//! - `database/<table>.jsonl`, parents before children: the rows, one JSON object per line, read
//!   in one repeatable-read transaction (consistent beside a running server);
//! - `domains/<uuid>.xml`: the persistent definition of every VM Limen manages, and
//!   `snapshots/<uuid>/<n>.xml` its snapshots' descriptions, parents first (their data is inside
//!   the disks; libvirt must be told of them again on a new host).
//!
//! Disks are not in it: they are the data dir's `disks/` (back that up with the host's tools).
//!
//! A restore goes onto an empty database, in one transaction: the schema the archive was made
//! with, its rows, then the migrations since. Domains the host no longer has are defined again
//! from their XML (only what Limen itself would define: `domains.rs`), with their snapshots; a
//! reconcile afterwards matches records and domains.

mod domains;
mod dump;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use diesel::connection::Connection;
use diesel::pg::PgConnection;
use diesel::sql_types::Text;
use diesel::RunQueryDsl;
use diesel_migrations::MigrationHarness;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::migrations::{self, known_versions, SchemaState, RELEASE};
use crate::db::{Db, DbError};
use crate::error::chain;
use crate::host::definitions::SnapshotDefinition;
use crate::host::{HostError, Hosts};

/// The archive layout this binary writes and reads.
pub const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Invalid(String),
    #[error("reading or writing the archive failed")]
    Io(#[from] std::io::Error),
    #[error("a database query failed")]
    Query(#[from] diesel::result::Error),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("libvirt failed")]
    Host(#[from] HostError),
    #[error("the manifest is not valid")]
    Manifest(#[from] serde_json::Error),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The Limen release that made it.
    pub limen_version: String,
    /// The newest migration of the database it was made from.
    pub schema: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Parents before children: the order a restore loads them in.
    pub tables: Vec<TableEntry>,
    pub domains: Vec<DomainEntry>,
    /// Hosts that could not be reached: their VMs' rows are in the archive, their definitions
    /// are not (a restore leaves those domains as their hosts keep them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts_unreachable: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableEntry {
    pub name: String,
    pub rows: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DomainEntry {
    pub uuid: Uuid,
    pub name: String,
    pub host: String,
    /// Its snapshots' names, parents first (`snapshots/<uuid>/<n>.xml` is the n-th).
    #[serde(default)]
    pub snapshots: Vec<String>,
    /// The snapshot libvirt calls current (the parent of the next one).
    #[serde(default)]
    pub current_snapshot: Option<String>,
}

/// The largest manifest, domain or snapshot description a restore reads (a damaged or hostile
/// archive cannot make it read a gigabyte into memory).
const DOCUMENT_LIMIT: u64 = 4 << 20;

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub limen_version: String,
    pub schema: String,
    pub migrations_applied: Vec<String>,
    pub rows: u64,
    /// Domains the host did not have, defined again from the archive.
    pub domains_defined: Vec<String>,
    /// Domains that could not be defined, with libvirt's reason.
    pub domains_failed: Vec<(String, String)>,
}

/// Writes the archive to `path` (through `path.partial`, renamed when complete: a backup cut
/// off midway never looks like a finished one).
pub async fn create(db: &Db, hosts: &Hosts, path: &Path) -> Result<Manifest, BackupError> {
    let work = scratch_dir(path)?;
    let result = create_in(db, hosts, path, &work).await;
    let _ = std::fs::remove_dir_all(&work);
    result
}

async fn create_in(
    db: &Db,
    hosts: &Hosts,
    path: &Path,
    work: &Path,
) -> Result<Manifest, BackupError> {
    let tables_dir = work.to_path_buf();
    let (schema, tables, vms) = db
        .run(move |conn| {
            conn.build_transaction()
                .repeatable_read()
                .read_only()
                .run(|conn| dump_all(conn, &tables_dir))
                .map_err(into_db)
        })
        .await
        .map_err(from_db)?;
    let mut domains = Vec::new();
    let mut documents = Vec::new();
    // A host that is down does not stop the backup of everything else (the database above all).
    let mut unreachable = BTreeSet::new();
    for mut vm in vms {
        if unreachable.contains(&vm.host) {
            continue;
        }
        let Ok(host) = hosts.get(&vm.host) else {
            continue;
        };
        let read = async {
            let xml = host.persistent_xml(vm.uuid).await?;
            Ok::<_, HostError>((xml, host.snapshot_definitions(vm.uuid).await?))
        };
        let (xml, snapshots) = match read.await {
            Ok(read) => read,
            // A record whose domain is gone (missing): nothing to keep.
            Err(HostError::NoDomain) => continue,
            Err(HostError::Unavailable { .. } | HostError::Unreachable { .. }) => {
                unreachable.insert(vm.host.clone());
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        documents.push((format!("domains/{}.xml", vm.uuid), xml));
        for (index, snapshot) in snapshots.into_iter().enumerate() {
            documents.push((format!("snapshots/{}/{index}.xml", vm.uuid), snapshot.xml));
            if snapshot.current {
                vm.current_snapshot = Some(snapshot.name.clone());
            }
            vm.snapshots.push(snapshot.name);
        }
        domains.push(vm);
    }
    let manifest = Manifest {
        format: FORMAT,
        limen_version: RELEASE.to_string(),
        schema,
        created_at: chrono::Utc::now(),
        tables,
        domains,
        hosts_unreachable: unreachable.into_iter().collect(),
    };
    // Compressing the tables (gigabytes of statistics, perhaps) is blocking work.
    let (work, path) = (work.to_path_buf(), path.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let partial = work.join("archive.partial");
        write_archive(&partial, &manifest, &work, &documents)?;
        std::fs::rename(&partial, &path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(manifest)
    })
    .await
    .map_err(|e| BackupError::Db(DbError::Join(e)))?
}

/// Reads everything inside one transaction: the schema, every table into `dir`, the VMs.
fn dump_all(
    conn: &mut PgConnection,
    dir: &Path,
) -> Result<(String, Vec<TableEntry>, Vec<DomainEntry>), BackupError> {
    let state = SchemaState::read(conn)?;
    let schema = state
        .database_schema
        .ok_or_else(|| BackupError::Invalid("the database is empty: nothing to back up".into()))?;
    let mut tables = Vec::new();
    for table in dump::tables_in_order(conn)? {
        let mut out = BufWriter::new(File::create(dir.join(format!("{table}.jsonl")))?);
        let rows = dump::dump_table(conn, &table, &mut out)?;
        out.flush()?;
        tables.push(TableEntry { name: table, rows });
    }
    #[derive(diesel::QueryableByName)]
    struct Vm {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        uuid: Uuid,
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        host: String,
    }
    // Read through JSON: a database older than the host column (any schema this binary can
    // migrate) is backed up too.
    let vms: Vec<Vm> = diesel::sql_query(
        "SELECT uuid, name, COALESCE(to_jsonb(v) ->> 'host', 'local') AS host FROM vms v ORDER BY name",
    )
    .load(conn)?;
    let vms = vms
        .into_iter()
        .map(|vm| DomainEntry {
            uuid: vm.uuid,
            name: vm.name,
            host: vm.host,
            snapshots: Vec::new(),
            current_snapshot: None,
        })
        .collect();
    Ok((schema, tables, vms))
}

fn write_archive(
    path: &Path,
    manifest: &Manifest,
    tables_dir: &Path,
    documents: &[(String, String)],
) -> Result<(), BackupError> {
    use std::os::unix::fs::OpenOptionsExt;
    // Password hashes and token hashes are in it: the owner's alone, made new (in our private
    // scratch directory) and renamed into place when complete.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    let gzip = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::default());
    let mut tar = tar::Builder::new(gzip);
    let append_bytes = |tar: &mut tar::Builder<_>, name: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(manifest.created_at.timestamp().max(0) as u64);
        header.set_cksum();
        tar.append_data(&mut header, name, bytes)
    };
    append_bytes(
        &mut tar,
        "manifest.json",
        &serde_json::to_vec_pretty(manifest)?,
    )?;
    for table in &manifest.tables {
        let source = tables_dir.join(format!("{}.jsonl", table.name));
        tar.append_path_with_name(&source, format!("database/{}.jsonl", table.name))?;
    }
    for (name, xml) in documents {
        append_bytes(&mut tar, name, xml.as_bytes())?;
    }
    let gzip = tar.into_inner()?;
    let file = gzip.finish()?;
    let file = file.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(())
}

/// A private working directory beside the archive (same filesystem: the tables can be large).
fn scratch_dir(path: &Path) -> Result<PathBuf, BackupError> {
    use std::os::unix::fs::DirBuilderExt;
    let name = path
        .file_name()
        .ok_or_else(|| BackupError::Invalid("the backup file needs a name".into()))?;
    let dir = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    Ok(dir)
}

/// Loads the archive at `path` into `db`, which must hold no rows, and defines the domains the
/// hosts lack (those Limen itself would define), with their snapshots. Nothing is written to
/// the database unless everything loads; libvirt must answer first, so that a committed
/// database is never left without its domains for want of a daemon. A domain that cannot be
/// defined is reported, not fatal: the rows are in, and the archive still holds its XML.
pub async fn restore(
    db: &Db,
    hosts: &Hosts,
    data_dir: &Path,
    path: &Path,
) -> Result<RestoreReport, BackupError> {
    for host in hosts.all() {
        host.ping().await?;
    }
    let file = File::open(path)?;
    let (manifest, rows, migrations_applied, documents) = db
        .run(move |conn| {
            conn.transaction(|conn| load_archive(conn, file))
                .map_err(into_db)
        })
        .await
        .map_err(from_db)?;
    let mut report = RestoreReport {
        limen_version: manifest.limen_version.clone(),
        schema: manifest.schema.clone(),
        migrations_applied,
        rows,
        domains_defined: Vec::new(),
        domains_failed: Vec::new(),
    };
    for domain in &manifest.domains {
        if let Err(reason) = define_again(hosts, data_dir, domain, &documents, &mut report).await {
            report.domains_failed.push((domain.name.clone(), reason));
        }
    }
    Ok(report)
}

/// Defines one archived domain (and its snapshots) if its host lacks it.
async fn define_again(
    hosts: &Hosts,
    data_dir: &Path,
    domain: &DomainEntry,
    documents: &BTreeMap<String, String>,
    report: &mut RestoreReport,
) -> Result<(), String> {
    let Some(xml) = documents.get(&format!("domains/{}.xml", domain.uuid)) else {
        return Err("its definition is not in the archive".into());
    };
    let host = hosts
        .get(&domain.host)
        .map_err(|_| "its host is not configured".to_string())?;
    if host
        .domain_exists(domain.uuid)
        .await
        .map_err(|e| chain(&e))?
    {
        return Ok(());
    }
    domains::check(xml, domain, data_dir)?;
    let mut snapshots = Vec::new();
    for (index, name) in domain.snapshots.iter().enumerate() {
        let Some(xml) = documents.get(&format!("snapshots/{}/{index}.xml", domain.uuid)) else {
            return Err(format!(
                "the description of its snapshot {name} is not in the archive"
            ));
        };
        domains::check_snapshot(xml, domain, data_dir)?;
        snapshots.push(SnapshotDefinition {
            name: name.clone(),
            current: domain.current_snapshot.as_ref() == Some(name),
            xml: xml.clone(),
        });
    }
    host.define_xml(xml.clone()).await.map_err(|e| chain(&e))?;
    report.domains_defined.push(domain.name.clone());
    if !snapshots.is_empty() {
        host.redefine_snapshots(domain.uuid, snapshots)
            .await
            .map_err(|e| format!("defined, but its snapshots were not: {}", chain(&e)))?;
    }
    Ok(())
}

type Loaded = (Manifest, u64, Vec<String>, BTreeMap<String, String>);

/// Inside one transaction: checks the database is empty, brings its schema to the archive's,
/// loads the rows, resets the sequences, migrates to this binary's schema.
fn load_archive(conn: &mut PgConnection, file: File) -> Result<Loaded, BackupError> {
    let gzip = flate2::read::GzDecoder::new(BufReader::new(file));
    let mut archive = tar::Archive::new(gzip);
    let mut entries = archive.entries()?;
    let manifest: Manifest = {
        let mut first = entries
            .next()
            .ok_or_else(|| invalid("the file is empty"))?
            .map_err(|_| invalid("the file is not a Limen backup (not a gzip'd tar)"))?;
        if first.path()?.as_os_str() != "manifest.json" {
            return Err(invalid("the archive does not start with a Limen manifest"));
        }
        let mut text = String::new();
        (&mut first)
            .take(DOCUMENT_LIMIT)
            .read_to_string(&mut text)?;
        serde_json::from_str(&text)?
    };
    if manifest.format != FORMAT {
        return Err(invalid(&format!(
            "the backup has format {}; this Limen ({RELEASE}) reads format {FORMAT}",
            manifest.format
        )));
    }
    if !known_versions().contains(&manifest.schema) {
        return Err(invalid(&format!(
            "the backup was made by Limen {} (schema {}), which this Limen ({RELEASE}) does not \
             know: restore it with that release or a newer one",
            manifest.limen_version, manifest.schema
        )));
    }
    prepare_schema(conn, &manifest.schema)?;
    let present = dump::tables_in_order(conn)?;
    let expected: Vec<&str> = manifest.tables.iter().map(|t| t.name.as_str()).collect();
    let mut sorted_present: Vec<&str> = present.iter().map(String::as_str).collect();
    let mut sorted_expected = expected.clone();
    sorted_present.sort();
    sorted_expected.sort();
    if sorted_present != sorted_expected {
        return Err(invalid(
            "the backup's tables do not match its schema (the archive was altered)",
        ));
    }
    let mut next_table = manifest.tables.iter();
    let mut rows = 0u64;
    let mut documents = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(|_| invalid("the archive is cut off or damaged"))?;
        let name = entry.path()?.to_string_lossy().into_owned();
        if let Some(table) = name
            .strip_prefix("database/")
            .and_then(|n| n.strip_suffix(".jsonl"))
        {
            let wanted = next_table
                .next()
                .ok_or_else(|| invalid("the archive holds more tables than its manifest"))?;
            if wanted.name != table {
                return Err(invalid("the archive's tables are out of order"));
            }
            let loaded = dump::load_table(conn, table, BufReader::new(entry))
                .map_err(|e| damaged_or(e, table))?;
            if loaded != wanted.rows {
                return Err(invalid(&format!(
                    "the table {table} holds {loaded} rows, its manifest says {}: the archive is damaged",
                    wanted.rows
                )));
            }
            rows += loaded;
        } else if is_document(&name) {
            let mut xml = String::new();
            entry.take(DOCUMENT_LIMIT).read_to_string(&mut xml)?;
            documents.insert(name, xml);
        } else {
            return Err(invalid(&format!(
                "the archive holds an unexpected file {name:?}"
            )));
        }
    }
    if next_table.next().is_some() {
        return Err(invalid("the archive is cut off: tables are missing"));
    }
    dump::reset_sequences(conn)?;
    let applied = migrations::migrate(conn)?;
    migrations::record_release(conn)?;
    Ok((manifest, rows, applied, documents))
}

/// Brings an empty database to exactly `schema`: migrations forward, or (a database some newer
/// start migrated, still without rows) backward.
fn prepare_schema(conn: &mut PgConnection, schema: &str) -> Result<(), BackupError> {
    let state = SchemaState::read(conn)?;
    if state.database_schema.is_some() && dump::row_count(conn)? > 0 {
        return Err(invalid(
            "the database is not empty: restore onto a new database (e.g. `runuser -u postgres \
             -- dropdb limen && runuser -u postgres -- createdb -O limen limen`, with Limen \
             stopped)",
        ));
    }
    if let Some(refusal) = state.ahead() {
        return Err(invalid(&refusal));
    }
    // The local host's row a start wrote: the archive brings its own hosts.
    diesel::sql_query(
        "DO $$ BEGIN IF to_regclass('public.hosts') IS NOT NULL THEN DELETE FROM hosts; END IF; END $$",
    )
    .execute(conn)?;
    while SchemaState::read(conn)?
        .database_schema
        .is_some_and(|current| current.as_str() > schema)
    {
        conn.revert_last_migration(migrations::MIGRATIONS)
            .map_err(DbError::Migration)?;
    }
    migrations::migrate_to(conn, schema)?;
    Ok(())
}

/// `domains/<uuid>.xml` or `snapshots/<uuid>/<n>.xml`: nothing else is read from an archive.
fn is_document(name: &str) -> bool {
    let uuid = |text: &str| text.parse::<Uuid>().is_ok();
    if let Some(rest) = name
        .strip_prefix("domains/")
        .and_then(|n| n.strip_suffix(".xml"))
    {
        return uuid(rest);
    }
    name.strip_prefix("snapshots/")
        .and_then(|n| n.strip_suffix(".xml"))
        .and_then(|n| n.split_once('/'))
        .is_some_and(|(id, index)| uuid(id) && index.parse::<u32>().is_ok())
}

/// `Db::run` carries `DbError`s: ours travel inside one and come out as they went in.
fn into_db(error: BackupError) -> DbError {
    match error {
        BackupError::Db(db) => db,
        other => DbError::Migration(Box::new(other)),
    }
}

fn from_db(error: DbError) -> BackupError {
    match error {
        DbError::Migration(inner) => match inner.downcast::<BackupError>() {
            Ok(ours) => *ours,
            Err(other) => BackupError::Db(DbError::Migration(other)),
        },
        other => BackupError::Db(other),
    }
}

fn invalid(message: &str) -> BackupError {
    BackupError::Invalid(message.to_string())
}

/// A load that failed because the data did not fit its table (a damaged or altered archive).
fn damaged_or(error: BackupError, table: &str) -> BackupError {
    match error {
        BackupError::Query(diesel::result::Error::DatabaseError(_, info)) => invalid(&format!(
            "the rows of {table} do not load ({}): the archive is damaged or altered",
            info.message()
        )),
        BackupError::Io(_) => invalid("the archive is cut off or damaged"),
        other => other,
    }
}
