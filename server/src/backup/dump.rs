//! The database as JSON lines, one file per table, read in one repeatable-read transaction (a
//! consistent picture while a server keeps writing), and loaded back in dependency order.
//! Plain SQL through the server's own connection: no `pg_dump` of the right major version
//! needed, and the rows come back through PostgreSQL's own JSON conversions.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read, Write};

use diesel::pg::PgConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::RunQueryDsl;

use super::BackupError;

/// Rows fetched or inserted per statement.
const BATCH: i64 = 1_000;
/// The longest row a restore reads (a damaged archive cannot make it read without end).
const ROW_LIMIT: u64 = 64 << 20;

/// Tables the migrations own: never dumped or loaded.
const BOOKKEEPING: [&str; 2] = ["__diesel_schema_migrations", "limen_release"];

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(diesel::QueryableByName)]
struct Edge {
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    parent: String,
}

/// Limen's tables, parents before children (every foreign key points backwards in the list).
pub fn tables_in_order(conn: &mut PgConnection) -> Result<Vec<String>, BackupError> {
    let names: Vec<Name> = diesel::sql_query(
        "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1",
    )
    .load(conn)?;
    let edges: Vec<Edge> = diesel::sql_query(
        "SELECT child.relname AS child, parent.relname AS parent FROM pg_constraint k \
         JOIN pg_class child ON child.oid = k.conrelid JOIN pg_class parent ON parent.oid = k.confrelid \
         WHERE k.contype = 'f' AND k.connamespace = 'public'::regnamespace",
    )
    .load(conn)?;
    let tables: BTreeSet<String> = names
        .into_iter()
        .map(|n| n.name)
        .filter(|name| !BOOKKEEPING.contains(&name.as_str()))
        .collect();
    let mut parents: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for edge in &edges {
        if edge.child != edge.parent && tables.contains(&edge.parent) {
            parents
                .entry(edge.child.as_str())
                .or_default()
                .insert(edge.parent.as_str());
        }
    }
    let mut ordered: Vec<String> = Vec::new();
    while ordered.len() < tables.len() {
        let before = ordered.len();
        for table in &tables {
            let placed = |t: &str| ordered.iter().any(|o| o == t);
            if !placed(table)
                && parents
                    .get(table.as_str())
                    .is_none_or(|ps| ps.iter().all(|p| placed(p)))
            {
                ordered.push(table.clone());
            }
        }
        if ordered.len() == before {
            return Err(BackupError::Invalid(
                "the tables' foreign keys form a cycle".into(),
            ));
        }
    }
    Ok(ordered)
}

/// Writes every row of `table` as one JSON object per line; returns the row count. Runs inside
/// the caller's transaction (a cursor lives as long as it).
pub fn dump_table(
    conn: &mut PgConnection,
    table: &str,
    out: &mut impl Write,
) -> Result<u64, BackupError> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        row: String,
    }
    diesel::sql_query(format!(
        "DECLARE limen_dump NO SCROLL CURSOR FOR SELECT row_to_json(t)::text AS row FROM {} t",
        quote(table)
    ))
    .execute(conn)?;
    let mut count = 0u64;
    loop {
        let rows: Vec<Row> =
            diesel::sql_query(format!("FETCH {BATCH} FROM limen_dump")).load(conn)?;
        for row in &rows {
            out.write_all(row.row.as_bytes())?;
            out.write_all(b"\n")?;
        }
        count += rows.len() as u64;
        if (rows.len() as i64) < BATCH {
            break;
        }
    }
    diesel::sql_query("CLOSE limen_dump").execute(conn)?;
    Ok(count)
}

/// Inserts the JSON lines of `input` into `table` (columns by name, as `row_to_json` wrote
/// them); returns the row count.
pub fn load_table(
    conn: &mut PgConnection,
    table: &str,
    mut input: impl BufRead,
) -> Result<u64, BackupError> {
    let statement = format!(
        "INSERT INTO {0} SELECT * FROM json_populate_recordset(NULL::{0}, $1::json)",
        quote(table)
    );
    let mut batch: Vec<String> = Vec::new();
    let mut count = 0u64;
    let mut flush = |batch: &mut Vec<String>, conn: &mut PgConnection| -> Result<(), BackupError> {
        if batch.is_empty() {
            return Ok(());
        }
        let array = format!("[{}]", batch.join(","));
        count += diesel::sql_query(&statement)
            .bind::<Text, _>(array)
            .execute(conn)? as u64;
        batch.clear();
        Ok(())
    };
    loop {
        let mut line = Vec::new();
        let read = (&mut input).take(ROW_LIMIT).read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        } else if read as u64 == ROW_LIMIT {
            return Err(BackupError::Invalid(format!(
                "a row of {table} is larger than {} MiB: the archive is damaged",
                ROW_LIMIT >> 20
            )));
        }
        if line.is_empty() {
            continue;
        }
        let line = String::from_utf8(line)
            .map_err(|_| BackupError::Invalid(format!("a row of {table} is not UTF-8")))?;
        batch.push(line);
        if batch.len() as i64 >= BATCH {
            flush(&mut batch, conn)?;
        }
    }
    flush(&mut batch, conn)?;
    Ok(count)
}

/// Sets every serial column's sequence past the highest value loaded, so new rows do not
/// collide with restored ones.
pub fn reset_sequences(conn: &mut PgConnection) -> Result<(), BackupError> {
    #[derive(diesel::QueryableByName)]
    struct Serial {
        #[diesel(sql_type = Text)]
        table_name: String,
        #[diesel(sql_type = Text)]
        column_name: String,
    }
    let serials: Vec<Serial> = diesel::sql_query(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND column_default LIKE 'nextval(%'",
    )
    .load(conn)?;
    for serial in serials {
        diesel::sql_query(format!(
            "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(max({col}), 0) + 1, false) \
             FROM {table}",
            col = quote(&serial.column_name),
            table = quote(&serial.table_name)
        ))
        .bind::<Text, _>(&serial.table_name)
        .bind::<Text, _>(&serial.column_name)
        .execute(conn)?;
    }
    Ok(())
}

/// How many rows the data tables hold (bookkeeping excluded).
pub fn row_count(conn: &mut PgConnection) -> Result<i64, BackupError> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut total = 0;
    for table in tables_in_order(conn)? {
        // Every start writes the local host's row: that alone is not data.
        if table == "hosts" {
            continue;
        }
        let count: Count =
            diesel::sql_query(format!("SELECT count(*) AS n FROM {}", quote(&table)))
                .get_result(conn)?;
        total += count.n;
    }
    Ok(total)
}

/// A table name as an SQL identifier (they come from the catalogue or a manifest checked
/// against it, but quoting keeps any name harmless).
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
