//! Set-based writes: a batch's rows travel as one JSON array parameter and each statement handles
//! all of them (SQLite `jsonb_each`, PostgreSQL `jsonb_array_elements`), so a batch costs a fixed
//! number of statements however many rows it writes. Each row is a JSON array; these helpers read
//! its elements with the right type in either dialect.

/// The rows of the JSON array bound as parameter `$n`, each as `r.value`.
pub(crate) fn rows(pg: bool, n: usize) -> String {
    if pg {
        format!("jsonb_array_elements(CAST(${n} AS jsonb)) AS r(value)")
    } else {
        // jsonb_each: each row stays binary JSON, so every `->>` is a direct lookup rather than a
        // parse of the row's text (measured 1.8x faster on a 13-column insert).
        format!("jsonb_each(${n}) AS r")
    }
}

/// `rows`, with the expression that orders them as in the array (for inserts whose ids must follow
/// it).
pub(crate) fn ordered_rows(pg: bool, n: usize) -> (String, &'static str) {
    if pg {
        (
            format!("jsonb_array_elements(CAST(${n} AS jsonb)) WITH ORDINALITY AS r(value, n)"),
            "r.n",
        )
    } else {
        (rows(pg, n), "r.key")
    }
}

/// Element `i` of the row as an integer.
pub(crate) fn int(i: usize) -> String {
    format!("CAST(r.value ->> {i} AS BIGINT)")
}

/// Element `i` of the row as text.
pub(crate) fn text(i: usize) -> String {
    // Parenthesised: `||` binds tighter than `->>`.
    format!("(r.value ->> {i})")
}

/// Element `i` (an ISO date) as a date: DATE on PostgreSQL, the text itself on SQLite.
pub(crate) fn date(pg: bool, i: usize) -> String {
    if pg {
        format!("CAST(r.value ->> {i} AS DATE)")
    } else {
        text(i)
    }
}

/// Element `i` (an RFC 3339 time) as a time.
pub(crate) fn time(pg: bool, i: usize) -> String {
    if pg {
        format!("CAST(r.value ->> {i} AS TIMESTAMPTZ)")
    } else {
        text(i)
    }
}

/// Element `i` (a JSON boolean) as a flag: BOOLEAN on PostgreSQL, 0/1 on SQLite.
pub(crate) fn flag(pg: bool, i: usize) -> String {
    if pg {
        format!("CAST(r.value ->> {i} AS BOOLEAN)")
    } else {
        text(i)
    }
}

/// The ids of the JSON array of integers bound as `$n`, as a sub-select.
pub(crate) fn ids(pg: bool, n: usize) -> String {
    if pg {
        format!("SELECT CAST(r.value AS BIGINT) FROM {}", rows(pg, n))
    } else {
        format!("SELECT r.value FROM {}", rows(pg, n))
    }
}

/// A row that is a JSON scalar (not an array), as text.
pub(crate) fn scalar(pg: bool) -> &'static str {
    if pg { "r.value #>> '{}'" } else { "r.value" }
}

/// `$n` new ids for `$table` inside the write transaction `$tx`: on PostgreSQL from the table's
/// identity sequence, on SQLite after the highest id (the transaction holds the write lock, so no
/// one else can take them). Rows are then inserted with their ids, so a batch knows them without
/// reading them back.
macro_rules! next_ids {
    ($tx:expr, $pg:expr, $table:literal, $n:expr) => {{
        let n: usize = $n;
        if n == 0 {
            Vec::<i64>::new()
        } else if $pg {
            sqlx::query_scalar::<_, i64>(concat!(
                "SELECT nextval(pg_get_serial_sequence('",
                $table,
                "', 'id')) FROM generate_series(1, CAST($1 AS INTEGER))"
            ))
            .bind(n as i64)
            .fetch_all(&mut *$tx)
            .await?
        } else {
            let max: i64 = sqlx::query_scalar(concat!("SELECT COALESCE(MAX(id), 0) FROM ", $table))
                .fetch_one(&mut *$tx)
                .await?;
            (1..=n as i64).map(|k| max + k).collect()
        }
    }};
}
pub(crate) use next_ids;

/// Runs `$statements` (pairs of SQL using its rows as `$1`, and the rows) in the transaction `$tx`,
/// skipping those without rows. SQLite runs them all from one query string (one hand-off to its
/// connection thread instead of one each), each statement's `$1` renumbered to its place;
/// PostgreSQL's protocol takes one statement per query, so there they go one by one.
macro_rules! run_all {
    ($tx:expr, $pg:expr, $statements:expr) => {{
        let statements: Vec<(String, String)> = $statements
            .into_iter()
            .filter(|(_, rows): &(String, String)| rows != "[]")
            .collect();
        if $pg {
            for (sql, rows) in statements {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(rows)
                    .execute(&mut *$tx)
                    .await?;
            }
        } else if !statements.is_empty() {
            let mut joined = String::new();
            for (k, (sql, _)) in statements.iter().enumerate() {
                joined.push_str(&sql.replace("$1", &format!("${}", k + 1)));
                joined.push_str(";\n");
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(joined));
            for (_, rows) in statements {
                q = q.bind(rows);
            }
            q.execute(&mut *$tx).await?;
        }
    }};
}
pub(crate) use run_all;
