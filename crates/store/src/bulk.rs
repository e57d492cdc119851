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

/// A settled book of `accounts` accounts for looking at query plans at scale, loaded by the engine
/// into the migrated, empty database at `url`: one contact and three invoices per account, a
/// payment on every third account (allocated to its first invoice), two calls per account (every
/// fourth account's latest a promise), each payment's and call's request key, every view built and
/// every worklist entry computed, as a book that has been worked for a while looks. The views hold an empty document: these rows are
/// for the planner, which costs by row counts and widths, never for reading back.
pub async fn load_scale_book(url: &str, accounts: u64) -> Result<(), StoreError> {
    engine_bulk_load(
        url,
        BulkRows {
            accounts,
            contacts: accounts,
            invoices: 3 * accounts,
            adjustments: accounts / 10,
        },
    )
    .await?;
    let pg = url.starts_with("postgres");
    // Literals of each type as each backend takes them.
    let date = |d: &str| {
        if pg {
            format!("DATE '{d}'")
        } else {
            format!("'{d}'")
        }
    };
    let time = |t: &str| {
        if pg {
            format!("TIMESTAMPTZ '{t}'")
        } else {
            format!("'{t}'")
        }
    };
    let (yes, no) = if pg { ("TRUE", "FALSE") } else { ("1", "0") };
    let now = time("2026-11-20T09:00:00.000000Z");
    let settled = format!(
        "INSERT INTO payments (account_id, amount_minor, payment_date, reference, invoice_numbers, \
             unallocated_minor, create_time)
         SELECT id, 5000, {paid}, 'BULK PAY', '', 0, {now} FROM accounts WHERE id % 3 = 0;
         INSERT INTO payment_allocations (payment_id, position, invoice_id, amount_minor)
         SELECT p.id, 0, i.id, 5000 FROM payments p
         JOIN invoices i ON i.account_id = p.account_id AND i.number = 'INV-0';
         UPDATE invoices SET paid_minor = 5000, outstanding_minor = outstanding_minor - 5000
         WHERE number = 'INV-0' AND account_id % 3 = 0;
         INSERT INTO calls (account_id, direction, start_time, duration_ms, contact_name, \
             right_party, outcome, details, notes, next_step, agent, create_time, breaches)
         SELECT id, 'outbound', {first}, 60000, 'Contact', {no}, 'no_answer', '{{}}', '', '', \
             'bulk', {now}, CASE WHEN id % 50 = 0 THEN '[[\"unclaimed\", \"no claim\"]]' END \
         FROM accounts;
         INSERT INTO calls (account_id, direction, start_time, duration_ms, contact_name, \
             right_party, outcome, details, notes, next_step, agent, create_time, promise_minor, \
             promise_date)
         SELECT id, 'outbound', {second}, 180000, 'Contact', {yes},
             CASE WHEN id % 4 = 0 THEN 'promise_to_pay' ELSE 'refused_to_pay' END, '{{}}', '', '',
             'bulk', {now}, CASE WHEN id % 4 = 0 THEN 1000 END,
             CASE WHEN id % 4 = 0 THEN {promised} END
         FROM accounts;
         INSERT INTO requests (subject, request_id, method, fingerprint, resource, response, \
             create_time)
         SELECT 'bulk', 'pay-' || id, 'RecordPayment', 'f', \
             'accounts/' || account_id || '/payments/' || id, NULL, {now} FROM payments;
         INSERT INTO requests (subject, request_id, method, fingerprint, resource, response, \
             create_time)
         SELECT 'bulk', 'call-' || id, 'RecordCallOutcome', 'f', \
             'accounts/' || account_id || '/calls/' || id, NULL, {now} FROM calls;
         INSERT INTO claims (account_id, agent, claim_time, expire_time, end_time, end_reason)
         SELECT id, 'agent-' || (id % 64), {first}, {first}, {first}, 'recorded' FROM accounts;
         INSERT INTO claims (account_id, agent, claim_time, expire_time)
         SELECT id, 'agent-' || id, {from}, {until} FROM accounts WHERE id <= 64;
         UPDATE accounts SET view_json = '{{}}';
         UPDATE worklist SET stale = {no}, version = version + 1,
             score = CASE WHEN account_id % 5 = 0 THEN NULL ELSE (account_id * 7919) % 100000 END,
             callable_from = {from}, callable_until = {until}, next_check = {until},
             reasons = '[]';",
        paid = date("2026-10-15"),
        first = time("2026-11-02T10:00:00.000000Z"),
        second = time("2026-11-09T10:00:00.000000Z"),
        promised = date("2026-11-30"),
        from = time("2026-11-22T08:00:00.000000Z"),
        until = time("2026-11-22T17:00:00.000000Z"),
    );
    let wrapped = if pg {
        format!("BEGIN; {settled} COMMIT;")
    } else {
        format!("BEGIN IMMEDIATE; {settled} COMMIT;")
    };
    if pg {
        let mut conn = PgConnection::connect(url).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(wrapped))
            .execute(&mut conn)
            .await?;
    } else {
        let mut conn = SqliteConnection::connect(url).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(wrapped))
            .execute(&mut conn)
            .await?;
    }
    Ok(())
}
