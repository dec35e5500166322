//! Customer snapshots in the database (portable SQL: SQLite and PostgreSQL).

use super::prepared::Prepared;
use super::record::{CustomerRecord, NOT_READ};
use crate::ids::Guid;
use crate::model::customers::SnapshotInfo;
use crate::model::gdap::Coverage;
use crate::ssr::clock::{format_time, from_unix_ms, parse_time, unix_ms};
use crate::ssr::storage::{Backend, Storage};
use sqlx::any::AnyRow;
use sqlx::Row;
use time::OffsetDateTime;

/// A complete list of customers as of one sync. It does not change once made.
#[derive(Debug)]
pub struct Snapshot {
    pub info: SnapshotInfo,
    /// By name, then tenant id (the default view's order).
    pub customers: Vec<CustomerRecord>,
    pub(super) prepared: Prepared,
}

impl Snapshot {
    pub fn new(info: SnapshotInfo, mut customers: Vec<CustomerRecord>) -> Self {
        sort_for_display(&mut customers);
        Snapshot {
            info,
            customers,
            prepared: Prepared::default(),
        }
    }
}

/// The columns of `snapshot_customers`, each with what a bulk insert fills it with: the snapshot
/// id, or the next cell of the customer's JSON row (see [`JsonRow`]).
const COLUMNS: [(&str, Cell); 12] = [
    ("snapshot_id", Cell::SnapshotId),
    ("customer_tenant_id", Cell::Text),
    ("organization_display_name", Cell::Text),
    ("dap_enabled", Cell::Integer),
    ("dap_since", Cell::Text),
    ("dap_ended", Cell::Text),
    ("last_sign_in", Cell::Text),
    ("partner_agent_count", Cell::Integer),
    ("partner_sign_in_count", Cell::Integer),
    ("global_admin_sign_in_count", Cell::Integer),
    ("gdap_coverage", Cell::Text),
    ("gdap_reasons", Cell::Text),
];

/// What fills a column: the snapshot id (`$2`), or the row's next cell as text or integer.
#[derive(Clone, Copy, PartialEq)]
enum Cell {
    SnapshotId,
    Text,
    Integer,
}

/// One customer as a bulk insert receives it: a JSON array with a cell for each of `COLUMNS`
/// but the snapshot id, in that order.
#[derive(serde::Serialize)]
struct JsonRow<'a>(
    &'a str,
    &'a str,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
    i64,
    &'a str,
    &'a str,
);

impl<'a> JsonRow<'a> {
    fn of(c: &'a CustomerRecord) -> Self {
        JsonRow(
            &c.tenant_id,
            &c.name,
            i64::from(c.dap_enabled),
            c.dap_since.map(format_time),
            c.dap_ended.map(format_time),
            c.last_sign_in.map(format_time),
            i64::from(c.partner_agent_count),
            i64::from(c.partner_sign_in_count),
            i64::from(c.global_admin_sign_in_count),
            c.gdap.as_str(),
            &c.gdap_reasons,
        )
    }
}

/// Rows per INSERT. The rows travel as one JSON parameter that the database unpacks (SQLite's
/// `json_each`, PostgreSQL's `jsonb_array_elements`): binding each value cost more than storing
/// it. Storing 10,000 customers in SQLite (release build, whole transaction) took 354–562 ms as
/// 20-row statements of 240 bound values, 201–403 ms as JSON; 100, 1,000 or 10,000 rows a
/// statement made no clear difference, and 1,000 keeps a statement's JSON near 300 KB.
const ROWS_PER_INSERT: usize = 1_000;

/// `INSERT … SELECT` over the rows of the JSON array `$1`, into snapshot `$2`.
fn insert_statement(backend: Backend) -> String {
    let mut cell_index = 0;
    let cells: Vec<String> = COLUMNS
        .iter()
        .map(|(_, cell)| {
            if *cell == Cell::SnapshotId {
                return "$2".to_string();
            }
            let value = format!("value ->> {cell_index}");
            cell_index += 1;
            match (cell, backend) {
                (Cell::Integer, Backend::Postgres) => format!("({value})::bigint"),
                _ => value,
            }
        })
        .collect();
    let rows = match backend {
        Backend::Sqlite => "json_each($1)",
        Backend::Postgres => "jsonb_array_elements($1::jsonb) AS customer (value)",
    };
    format!(
        "INSERT INTO snapshot_customers ({}) SELECT {} FROM {rows}",
        column_names(),
        cells.join(", ")
    )
}

fn column_names() -> String {
    COLUMNS.map(|(name, _)| name).join(", ")
}

/// Stores a new snapshot and drops the older ones, in one transaction: readers see either the
/// old list or the new one, never a mix.
pub async fn save(
    storage: &Storage,
    synced_by: &str,
    customers: &[CustomerRecord],
    synced_at: OffsetDateTime,
) -> Result<SnapshotInfo, sqlx::Error> {
    let id = Guid::new_v4().to_string();
    let synced_at_ms = unix_ms(synced_at);
    let mut tx = storage.pool.begin().await?;
    sqlx::query(
        "INSERT INTO customer_snapshots (id, synced_at_ms, synced_by, customer_count)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(&id)
    .bind(synced_at_ms)
    .bind(synced_by)
    .bind(i64::try_from(customers.len()).unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await?;

    let insert = insert_statement(storage.backend);
    for chunk in customers.chunks(ROWS_PER_INSERT) {
        let rows: Vec<JsonRow> = chunk.iter().map(JsonRow::of).collect();
        let rows = serde_json::to_string(&rows).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query(&insert)
            .bind(rows)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
    }

    sqlx::query("DELETE FROM snapshot_customers WHERE snapshot_id <> $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM customer_snapshots WHERE id <> $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(SnapshotInfo {
        id,
        // As stored: millisecond precision, so a reload reports the same time.
        synced_at: format_time(from_unix_ms(synced_at_ms)),
        synced_by: synced_by.to_string(),
        customer_count: customers.len(),
    })
}

/// The latest snapshot's id and revision (bumped when a job changes a row of it in place).
pub async fn latest_id(storage: &Storage) -> Result<Option<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT id, revision FROM customer_snapshots ORDER BY synced_at_ms DESC LIMIT 1")
        .fetch_optional(&storage.pool)
        .await
}

/// DAP was removed from a customer: the latest snapshot says so at once, without a re-sync.
/// Runs in the caller's transaction, beside the job item's status and its audit entry.
pub async fn mark_dap_removed(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant_id: &str,
    at_ms: i64,
) -> Result<(), sqlx::Error> {
    let latest: Option<String> =
        sqlx::query_scalar("SELECT id FROM customer_snapshots ORDER BY synced_at_ms DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
    let Some(latest) = latest else { return Ok(()) };
    let ended = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
        .map(format_time)
        .unwrap_or_default();
    let changed = sqlx::query(
        "UPDATE snapshot_customers SET dap_enabled = 0, dap_ended = $1
         WHERE snapshot_id = $2 AND customer_tenant_id = $3 AND dap_enabled = 1",
    )
    .bind(ended)
    .bind(&latest)
    .bind(tenant_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if changed > 0 {
        sqlx::query("UPDATE customer_snapshots SET revision = revision + 1 WHERE id = $1")
            .bind(&latest)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

pub async fn load(storage: &Storage, id: &str) -> Result<Option<Snapshot>, sqlx::Error> {
    let header: Option<(i64, String, i64)> = sqlx::query_as(
        "SELECT synced_at_ms, synced_by, customer_count FROM customer_snapshots WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&storage.pool)
    .await?;
    let Some((synced_at_ms, synced_by, customer_count)) = header else {
        return Ok(None);
    };
    let rows = sqlx::query(&format!(
        "SELECT {} FROM snapshot_customers WHERE snapshot_id = $1",
        column_names()
    ))
    .bind(id)
    .fetch_all(&storage.pool)
    .await?;
    let customers = rows.iter().map(record).collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Snapshot::new(
        SnapshotInfo {
            id: id.to_string(),
            synced_at: format_time(from_unix_ms(synced_at_ms)),
            synced_by,
            customer_count: usize::try_from(customer_count).unwrap_or_default(),
        },
        customers,
    )))
}

/// The order a snapshot is kept in memory: by name, then tenant id (the default view's order).
fn sort_for_display(customers: &mut [CustomerRecord]) {
    customers.sort_by(|a, b| {
        a.name_folded
            .cmp(&b.name_folded)
            .then_with(|| a.tenant_id.cmp(&b.tenant_id))
    });
}

fn record(row: &AnyRow) -> Result<CustomerRecord, sqlx::Error> {
    let name: String = row.try_get("organization_display_name")?;
    let count = |column: &str| -> Result<u32, sqlx::Error> {
        Ok(u32::try_from(row.try_get::<i64, _>(column)?).unwrap_or_default())
    };
    let time = |column: &str| -> Result<Option<OffsetDateTime>, sqlx::Error> {
        Ok(parse_time(
            row.try_get::<Option<String>, _>(column)?.as_deref(),
        ))
    };
    Ok(CustomerRecord {
        tenant_id: row.try_get("customer_tenant_id")?,
        name_folded: name.trim().to_lowercase(),
        name,
        dap_enabled: row.try_get::<i64, _>("dap_enabled")? != 0,
        dap_since: time("dap_since")?,
        dap_ended: time("dap_ended")?,
        last_sign_in: time("last_sign_in")?,
        partner_agent_count: count("partner_agent_count")?,
        partner_sign_in_count: count("partner_sign_in_count")?,
        global_admin_sign_in_count: count("global_admin_sign_in_count")?,
        gdap: row
            .try_get::<Option<String>, _>("gdap_coverage")?
            .as_deref()
            .and_then(Coverage::parse)
            .unwrap_or(Coverage::Unknown),
        gdap_reasons: row
            .try_get::<Option<String>, _>("gdap_reasons")?
            .unwrap_or_else(|| NOT_READ.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_row_has_a_cell_for_every_column_but_the_snapshot_id() {
        let record = CustomerRecord {
            tenant_id: "t".into(),
            name: "n".into(),
            name_folded: "n".into(),
            dap_enabled: true,
            dap_since: None,
            dap_ended: None,
            last_sign_in: None,
            partner_agent_count: 1,
            partner_sign_in_count: 2,
            global_admin_sign_in_count: 3,
            gdap: Coverage::Covered,
            gdap_reasons: String::new(),
        };
        let row = serde_json::to_value(JsonRow::of(&record)).expect("a row is JSON");
        let from_rows = COLUMNS
            .iter()
            .filter(|(_, cell)| *cell != Cell::SnapshotId)
            .count();
        assert_eq!(row.as_array().map(Vec::len), Some(from_rows), "{row}");
    }
}
