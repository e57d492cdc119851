//! The database engine's own bulk-load rate, as the yardstick for ImportAccounts: the same number
//! of rows into the same tables (with the same indexes), written by the engine's fastest native
//! path — SQLite `INSERT … SELECT` from a recursive CTE, PostgreSQL `COPY`. Benchmarks only.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::Utc;
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;

use crate::StoreError;

/// Rows of each table an import writes (one change event per account besides).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkRows {
    pub accounts: u64,
    pub contacts: u64,
    pub invoices: u64,
    pub adjustments: u64,
}

impl BulkRows {
    /// Every row written, events included.
    pub fn total(&self) -> u64 {
        self.accounts * 2 + self.contacts + self.invoices + self.adjustments
    }
}

/// Loads `rows` synthetic rows into the migrated, empty database at `url`; returns how long the
/// engine took (one transaction).
pub async fn engine_bulk_load(url: &str, rows: BulkRows) -> Result<Duration, StoreError> {
    if url.starts_with("postgres") {
        let mut conn = PgConnection::connect(url).await?;
        let started = Instant::now();
        copy_postgres(&mut conn, rows).await?;
        Ok(started.elapsed())
    } else {
        let mut conn = SqliteConnection::connect(url).await?;
        sqlx::raw_sql("PRAGMA synchronous = FULL; PRAGMA journal_mode = WAL")
            .execute(&mut conn)
            .await?;
        let started = Instant::now();
        insert_select_sqlite(&mut conn, rows).await?;
        Ok(started.elapsed())
    }
}

async fn insert_select_sqlite(conn: &mut SqliteConnection, r: BulkRows) -> Result<(), StoreError> {
    let now = Utc::now().to_rfc3339();
    let (a, c, i, j) = (r.accounts, r.contacts, r.invoices, r.adjustments);
    let sql = format!(
        "BEGIN IMMEDIATE;
         WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k + 1 < {a})
         INSERT INTO accounts (external_ref, legal_name, debtor_type, country_code, time_zone,
             currency_code, status, cease_calls, credit_minor, profile_hash, create_time, update_time)
         SELECT 'BULK-' || k, 'Bulk Trading ' || k || ' Ltd', 'company', 'GB', 'Europe/London',
             'GBP', 'active', 0, 0, printf('%064d', k), '{now}', '{now}' FROM n;
         WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k + 1 < {c})
         INSERT INTO contacts (account_id, position, display_name, role, phone, email, preferred)
         SELECT k % {a} + 1, k / {a}, 'Contact ' || k, 'Accounts payable', '+44 20 7946 0000',
             'ap' || k || '@bulk.example', k < {a} FROM n;
         WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k + 1 < {i})
         INSERT INTO invoices (account_id, number, issue_date, due_date, amount_minor, adjusted_minor,
             paid_minor, outstanding_minor, disputed, dispute_reason, content_hash, create_time,
             update_time)
         SELECT k % {a} + 1, 'INV-' || (k / {a}), '2026-09-01', '2026-10-01', 10000 + k % 997, 0, 0,
             10000 + k % 997, 0, '', printf('%064d', k), '{now}', '{now}' FROM n;
         WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k + 1 < {j})
         INSERT INTO invoice_adjustments (invoice_id, reference, kind, amount_minor, date, reason)
         SELECT k % {i} + 1, 'CN-' || (k / {i}), 'credit_note', 1, '2026-09-05', 'Goods returned'
         FROM n;
         WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k + 1 < {a})
         INSERT INTO events (create_time, event_type, account_id, resource, actor)
         SELECT '{now}', 'account_created', k + 1, 'accounts/' || (k + 1), 'bulk' FROM n;
         COMMIT;"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Streams one table's rows (COPY text format) in chunks.
async fn copy_table(
    conn: &mut PgConnection,
    statement: &str,
    rows: u64,
    row: impl Fn(u64, &mut String),
) -> Result<(), StoreError> {
    let mut copy = conn.copy_in_raw(statement).await?;
    let mut buf = String::with_capacity(1 << 20);
    for k in 0..rows {
        row(k, &mut buf);
        if buf.len() > (1 << 20) - 512 {
            copy.send(buf.as_bytes()).await?;
            buf.clear();
        }
    }
    if !buf.is_empty() {
        copy.send(buf.as_bytes()).await?;
    }
    copy.finish().await?;
    Ok(())
}

async fn copy_postgres(conn: &mut PgConnection, r: BulkRows) -> Result<(), StoreError> {
    let now = Utc::now().to_rfc3339();
    let (a, i) = (r.accounts, r.invoices);
    sqlx::raw_sql("BEGIN").execute(&mut *conn).await?;
    copy_table(
        conn,
        "COPY accounts (external_ref, legal_name, debtor_type, country_code, time_zone, \
         currency_code, status, cease_calls, credit_minor, profile_hash, create_time, update_time) \
         FROM STDIN",
        a,
        |k, b| {
            let _ = writeln!(
                b,
                "BULK-{k}\tBulk Trading {k} Ltd\tcompany\tGB\tEurope/London\tGBP\tactive\tf\t0\t{k:064}\t{now}\t{now}"
            );
        },
    )
    .await?;
    copy_table(
        conn,
        "COPY contacts (account_id, position, display_name, role, phone, email, preferred) FROM STDIN",
        r.contacts,
        |k, b| {
            let _ = writeln!(
                b,
                "{}\t{}\tContact {k}\tAccounts payable\t+44 20 7946 0000\tap{k}@bulk.example\t{}",
                k % a + 1,
                k / a,
                if k < a { "t" } else { "f" }
            );
        },
    )
    .await?;
    copy_table(
        conn,
        "COPY invoices (account_id, number, issue_date, due_date, amount_minor, adjusted_minor, \
         paid_minor, outstanding_minor, disputed, dispute_reason, content_hash, create_time, \
         update_time) FROM STDIN",
        i,
        |k, b| {
            let amount = 10_000 + k % 997;
            let _ = writeln!(
                b,
                "{}\tINV-{}\t2026-09-01\t2026-10-01\t{amount}\t0\t0\t{amount}\tf\t\t{k:064}\t{now}\t{now}",
                k % a + 1,
                k / a
            );
        },
    )
    .await?;
    copy_table(
        conn,
        "COPY invoice_adjustments (invoice_id, reference, kind, amount_minor, date, reason) FROM STDIN",
        r.adjustments,
        |k, b| {
            let _ = writeln!(b, "{}\tCN-{}\tcredit_note\t1\t2026-09-05\tGoods returned", k % i + 1, k / i);
        },
    )
    .await?;
    copy_table(
        conn,
        "COPY events (create_time, event_type, account_id, resource, actor) FROM STDIN",
        a,
        |k, b| {
            let _ = writeln!(
                b,
                "{now}\taccount_created\t{}\taccounts/{}\tbulk",
                k + 1,
                k + 1
            );
        },
    )
    .await?;
    sqlx::raw_sql("COMMIT").execute(&mut *conn).await?;
    Ok(())
}
