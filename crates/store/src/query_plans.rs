//! The plans of the hot queries, for the test that checks each runs on an index (testkit only).

use chrono::NaiveDate;
use recoup_domain::account::AccountStatus;
use recoup_domain::{Currency, Money};
use sqlx::Row;

use crate::model::ListFilter;
use crate::{
    Store, StoreError, accounts, calls, import, maintenance, payments, with_reader, worklist,
};

/// A parameter of an explained query.
enum Arg {
    Int(i64),
    Text(&'static str),
    Date(NaiveDate),
    /// A time as each backend stores it.
    Time(&'static str),
}

impl Store {
    /// `(query, its plan)` for each query on the read and write hot paths. On PostgreSQL
    /// sequential scans are disabled first, so a plan shows whether an index *can* serve the query
    /// (on a small test table PostgreSQL would rightly prefer a scan).
    pub async fn query_plans(&self) -> Result<Vec<(&'static str, String)>, StoreError> {
        let day = NaiveDate::from_ymd_opt(2026, 11, 22).expect("a date");
        let gbp = Currency::from_code("GBP").expect("GBP");
        let every_filter = ListFilter {
            status: Some(AccountStatus::Active),
            min_days_overdue: 30,
            min_overdue: Some(Money::from_minor(100, gbp)),
        };
        let zones = [
            Arg::Text("Europe/London"),
            Arg::Date(day),
            Arg::Date(day),
            Arg::Text("Asia/Tokyo"),
            Arg::Date(day),
            Arg::Date(day),
        ];
        let mut plans = Vec::new();
        with_reader!(&self.backend, |pool, pg| {
            let mut conn = pool.acquire().await?;
            if pg {
                sqlx::query("SET enable_seqscan = off")
                    .execute(&mut *conn)
                    .await?;
            }
            let mut list_args: Vec<Arg> = zones.into_iter().collect();
            list_args.extend([
                Arg::Int(0),
                Arg::Text("active"),
                Arg::Text("GBP"),
                Arg::Int(100),
                Arg::Int(50),
            ]);
            let queries: Vec<(&'static str, String, Vec<Arg>)> = vec![
                (
                    "get account by id",
                    accounts::get_sql(pg, false).to_owned(),
                    vec![Arg::Int(1)],
                ),
                (
                    "get account by ref",
                    accounts::get_sql(pg, true).to_owned(),
                    vec![Arg::Text("A-1")],
                ),
                ("time zones in use", accounts::ZONES_SQL.to_owned(), vec![]),
                (
                    "list accounts",
                    accounts::list_sql(pg, &ListFilter::default(), 0),
                    vec![Arg::Int(0), Arg::Int(50)],
                ),
                (
                    "list accounts, every filter",
                    accounts::list_sql(pg, &every_filter, 2),
                    list_args,
                ),
                (
                    "payment batch: ledger",
                    payments::seen_sql(pg),
                    vec![Arg::Text(r#"[["s","r"]]"#)],
                ),
                (
                    "payment batch: accounts",
                    payments::accounts_sql(pg),
                    vec![Arg::Text("[1,2]")],
                ),
                (
                    "payment batch: invoices",
                    payments::invoices_sql(pg),
                    vec![Arg::Text("[1,2]")],
                ),
                (
                    "import: stored accounts",
                    import::stored_accounts_sql(pg),
                    vec![Arg::Text(r#"["A-1","A-2"]"#)],
                ),
                (
                    "import: stored invoices",
                    import::known_invoices_sql(pg),
                    vec![Arg::Text("[1,2]")],
                ),
                (
                    "stale views",
                    maintenance::rebuild_sql(pg),
                    vec![Arg::Int(10)],
                ),
                (
                    "worklist, first page",
                    worklist::page_sql(pg, false),
                    vec![Arg::Time("2026-11-22T10:00:00.000000Z"), Arg::Int(50)],
                ),
                (
                    "worklist, next page",
                    worklist::page_sql(pg, true),
                    vec![
                        Arg::Time("2026-11-22T10:00:00.000000Z"),
                        Arg::Int(50),
                        Arg::Int(1_000_000),
                        Arg::Int(7),
                    ],
                ),
                (
                    "list calls, first page",
                    calls::list_sql(false),
                    vec![Arg::Int(1), Arg::Int(50)],
                ),
                (
                    "list calls, next page",
                    calls::list_sql(true),
                    vec![
                        Arg::Int(1),
                        Arg::Int(50),
                        Arg::Time("2026-11-22T10:00:00.000000Z"),
                        Arg::Int(7),
                    ],
                ),
            ];
            for (name, sql, args) in queries {
                let explain = if pg {
                    "EXPLAIN "
                } else {
                    "EXPLAIN QUERY PLAN "
                };
                let mut q = sqlx::query(sqlx::AssertSqlSafe(format!("{explain}{sql}")));
                for a in args {
                    q = match a {
                        Arg::Int(v) => q.bind(v),
                        Arg::Text(v) => q.bind(v),
                        Arg::Date(v) => q.bind(v),
                        Arg::Time(v) if pg => q.bind(
                            chrono::DateTime::parse_from_rfc3339(v)
                                .map_err(|e| StoreError::Corrupt(e.to_string()))?
                                .with_timezone(&chrono::Utc),
                        ),
                        Arg::Time(v) => q.bind(v),
                    };
                }
                let lines: Vec<String> = q
                    .fetch_all(&mut *conn)
                    .await?
                    .iter()
                    .map(|r| r.try_get::<String, _>(if pg { 0 } else { 3 }))
                    .collect::<Result<_, _>>()?;
                plans.push((name, lines.join("\n")));
            }
            if pg {
                sqlx::query("RESET enable_seqscan")
                    .execute(&mut *conn)
                    .await?;
            }
        });
        Ok(plans)
    }
}
