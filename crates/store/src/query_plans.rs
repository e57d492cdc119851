//! The plans of the hot statements and of the background polls, for the test that checks each runs
//! on an index at scale (testkit only).

use chrono::NaiveDate;
use recoup_domain::account::AccountStatus;
use recoup_domain::{Currency, Money};
use sqlx::Row;

use crate::model::ListFilter;
use crate::reports::records;
use crate::{
    Store, StoreError, accounts, calls, change, claims, events, import, invoices, maintenance,
    payments, plans, promises, reports, requests, with_reader, worklist,
};

/// A parameter of an explained statement.
enum Arg {
    Int(i64),
    Text(&'static str),
    Date(NaiveDate),
    /// A time as each backend stores it.
    Time(&'static str),
}

impl Arg {
    /// The value as an SQL literal (PostgreSQL's EXECUTE takes literals; an untyped one takes the
    /// parameter's type).
    fn literal(&self) -> String {
        match self {
            Arg::Int(v) => v.to_string(),
            Arg::Text(v) | Arg::Time(v) => format!("'{}'", v.replace('\'', "''")),
            Arg::Date(d) => format!("'{d}'"),
        }
    }

    /// The type sqlx binds the value as on PostgreSQL, declared when the statement is prepared.
    fn pg_type(&self) -> &'static str {
        match self {
            Arg::Int(_) => "bigint",
            Arg::Text(_) => "text",
            Arg::Date(_) => "date",
            Arg::Time(_) => "timestamptz",
        }
    }
}

/// A time every explained statement uses.
const AT: &str = "2026-11-22T10:00:00.000000Z";

/// `(name, statement, its parameters)` of every statement whose plan matters at scale.
fn statements(pg: bool) -> Vec<(&'static str, String, Vec<Arg>)> {
    let day = NaiveDate::from_ymd_opt(2026, 11, 22).expect("a date");
    let gbp = Currency::from_code("GBP").expect("GBP");
    let every_filter = ListFilter {
        status: Some(AccountStatus::Active),
        min_days_overdue: 30,
        min_overdue: Some(Money::from_minor(100, gbp)),
    };
    let mut list_args = vec![
        Arg::Text("Europe/London"),
        Arg::Date(day),
        Arg::Date(day),
        Arg::Text("Asia/Tokyo"),
        Arg::Date(day),
        Arg::Date(day),
    ];
    list_args.extend([
        Arg::Int(0),
        Arg::Text("active"),
        Arg::Text("GBP"),
        Arg::Int(100),
        Arg::Int(50),
    ]);
    let [pay, allocate, settle, credit] = payments::write_sql(pg);
    let [touch, ledger, set_views, rebuild, announce] = change::epilogue_sql(pg);
    let allocation_rows = r#"[[1, 0, 3, "INV-0", 500]]"#;
    vec![
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
            "payment write: payments",
            pay,
            vec![Arg::Text(
                r#"[[900001, 3, 500, "2026-11-21", "BACS", "", 0, "2026-11-22T10:00:00Z"]]"#,
            )],
        ),
        (
            "payment write: allocations",
            allocate,
            vec![Arg::Text(allocation_rows)],
        ),
        (
            "payment write: invoices",
            settle,
            vec![Arg::Text(allocation_rows)],
        ),
        (
            "payment write: credit",
            credit,
            vec![Arg::Text("[[3, 100]]")],
        ),
        (
            "write epilogue: update times",
            touch,
            vec![Arg::Text(r#"[[3, "2026-11-22T10:00:00Z"]]"#)],
        ),
        (
            "write epilogue: ledger",
            ledger,
            vec![Arg::Text(
                r#"[["s", "r", "m", "f", "accounts/3/payments/900001", "2026-11-22T10:00:00Z"]]"#,
            )],
        ),
        (
            "write epilogue: views set",
            set_views,
            vec![Arg::Text(r#"[[3, "{}"]]"#)],
        ),
        (
            "write epilogue: views rebuilt",
            rebuild,
            vec![Arg::Text("[3, 4]")],
        ),
        (
            "write epilogue: events",
            announce,
            vec![Arg::Text(
                r#"[["2026-11-22T10:00:00Z", "payment_recorded", 3, "accounts/3/payments/900001", "s", "r"]]"#,
            )],
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
            "stale views: poll",
            maintenance::STALE_SQL.to_owned(),
            vec![Arg::Int(200)],
        ),
        (
            "stale views: rebuild",
            maintenance::rebuild_sql(pg),
            vec![Arg::Text("[3, 4]")],
        ),
        (
            "worklist, first page",
            worklist::page_sql(pg, false, None),
            vec![Arg::Time(AT), Arg::Int(50)],
        ),
        (
            "worklist of one queue",
            worklist::page_sql(pg, false, Some(1)),
            vec![Arg::Time(AT), Arg::Int(50), Arg::Text("default")],
        ),
        (
            "prepare call: the account with its live claim",
            claims::with_claim_sql(pg).to_owned(),
            vec![Arg::Int(3), Arg::Time(AT)],
        ),
        (
            "claim next: candidates",
            claims::candidates_sql(pg, None, false),
            vec![Arg::Time(AT), Arg::Int(16)],
        ),
        (
            "claim next: candidates in a queue",
            claims::candidates_sql(pg, Some(1), false),
            vec![Arg::Time(AT), Arg::Int(16), Arg::Text("default")],
        ),
        (
            "payments of an account, next page",
            payments::list_sql(true),
            vec![
                Arg::Int(3),
                Arg::Int(50),
                Arg::Date(NaiveDate::from_ymd_opt(2026, 11, 1).expect("a date")),
                Arg::Int(1_000_000),
            ],
        ),
        (
            "batch get accounts by name",
            accounts::batch_sql(pg, false).to_owned(),
            vec![Arg::Text("[3, 4, 5]")],
        ),
        (
            "batch get accounts by external ref",
            accounts::batch_sql(pg, true).to_owned(),
            vec![Arg::Text("[\"A-3\", \"A-4\"]")],
        ),
        (
            "feed: the head a filtered watcher's heartbeat reports",
            events::LAST_EVENT_SQL.to_owned(),
            Vec::new(),
        ),
        (
            "idempotency ledger: forget old keys",
            requests::forget_sql(pg).to_owned(),
            vec![Arg::Time(AT), Arg::Int(5_000)],
        ),
        (
            "rule breaches, first page",
            calls::breaches_sql(false, false),
            vec![Arg::Int(50)],
        ),
        (
            "worklist, next page",
            worklist::page_sql(pg, true, None),
            vec![
                Arg::Time(AT),
                Arg::Int(50),
                Arg::Int(1_000_000),
                Arg::Int(7),
            ],
        ),
        (
            "worklist: stale entries",
            worklist::STALE_SQL.to_owned(),
            vec![Arg::Int(500)],
        ),
        (
            "worklist: entries due",
            worklist::DUE_SQL.to_owned(),
            vec![Arg::Time(AT), Arg::Int(500)],
        ),
        (
            "promises still open",
            promises::OPEN_SQL.to_owned(),
            vec![Arg::Int(0), Arg::Int(200)],
        ),
        (
            "active plans",
            plans::ACTIVE_SQL.to_owned(),
            vec![Arg::Int(0), Arg::Int(200)],
        ),
        (
            "events after a position",
            events::after_sql(0, false),
            vec![Arg::Int(1_000), Arg::Int(256)],
        ),
        (
            "events of one type after a position",
            events::after_sql(1, false),
            vec![
                Arg::Int(1_000),
                Arg::Int(256),
                Arg::Text("payment_recorded"),
            ],
        ),
        (
            "events of one account after a position",
            events::after_sql(0, true),
            vec![Arg::Int(1_000), Arg::Int(256), Arg::Int(3)],
        ),
        (
            "report fold: events",
            reports::EVENTS_SQL.to_owned(),
            vec![Arg::Int(1_000), Arg::Int(2_000)],
        ),
        (
            "report fold: calls",
            records::calls_sql(&records::by_ids(pg, "c.id")),
            vec![Arg::Text("[1,2]")],
        ),
        (
            "report fold: payments",
            records::payments_sql(&records::by_ids(pg, "p.id")),
            vec![Arg::Text("[1,2]")],
        ),
        (
            "report fold: promising calls",
            records::past_calls_sql(pg),
            vec![Arg::Text("[1,2]")],
        ),
        (
            "report fold: plans of accounts",
            records::past_plans_sql(pg),
            vec![Arg::Text("[1,2]")],
        ),
        (
            "report fold: promise states",
            records::promises_sql(&records::by_ids(pg, "s.call_id")),
            vec![Arg::Text("[1,2]")],
        ),
        (
            "report fold: plans",
            records::plans_sql(&records::by_ids(pg, "p.id")),
            vec![Arg::Text("[1,2]")],
        ),
        (
            "report fold: disputes",
            records::disputes_sql(&records::by_ids(pg, "d.id")),
            vec![Arg::Text("[1,2]")],
        ),
        (
            "report fold: seen",
            reports::seen_sql(pg),
            vec![Arg::Text(r#"["plans/1"]"#)],
        ),
        (
            "report: facts of a period",
            reports::FACTS_SQL.to_owned(),
            vec![Arg::Date(day), Arg::Date(day)],
        ),
        (
            "report: agent days of a period",
            reports::AGENT_DAYS_SQL.to_owned(),
            vec![Arg::Date(day), Arg::Date(day)],
        ),
        ("report: the lag", reports::LAG_SQL.to_owned(), vec![]),
        (
            "report: the books of a period",
            reports::book::BOOKS_SQL.to_owned(),
            vec![Arg::Date(day), Arg::Date(day)],
        ),
        (
            "evidence: every invoice of an account",
            invoices::read_sql(pg, invoices::OF_ACCOUNT),
            vec![Arg::Int(1)],
        ),
        (
            "list calls, first page",
            calls::list_sql(false),
            vec![Arg::Int(1), Arg::Int(50)],
        ),
        (
            "list calls, next page",
            calls::list_sql(true),
            vec![Arg::Int(1), Arg::Int(50), Arg::Time(AT), Arg::Int(7)],
        ),
    ]
}

impl Store {
    /// `(statement, its plan)` for each statement on the read and write hot paths and each
    /// background poll. PostgreSQL's are its generic plans (`plan_cache_mode =
    /// force_generic_plan`): planned without the parameters' values, as a pooled connection plans a
    /// statement it has run a few times, which is where a plan costed for a small book stalls a
    /// large one. Nothing is executed.
    pub async fn query_plans(&self) -> Result<Vec<(&'static str, String)>, StoreError> {
        let mut plans = Vec::new();
        with_reader!(&self.backend, |pool, pg| {
            let mut conn = pool.acquire().await?;
            if pg {
                sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
                    .execute(&mut *conn)
                    .await?;
            }
            for (name, sql, args) in statements(pg) {
                let lines: Vec<String> = if pg {
                    let (types, values) = if args.is_empty() {
                        (String::new(), String::new())
                    } else {
                        let types: Vec<&str> = args.iter().map(Arg::pg_type).collect();
                        let values: Vec<String> = args.iter().map(Arg::literal).collect();
                        (
                            format!("({})", types.join(", ")),
                            format!("({})", values.join(", ")),
                        )
                    };
                    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "PREPARE recoup_explained{types} AS {sql}"
                    )))
                    .execute(&mut *conn)
                    .await?;
                    let execute = format!("EXPLAIN EXECUTE recoup_explained{values}");
                    let rows = sqlx::query(sqlx::AssertSqlSafe(execute))
                        .persistent(false)
                        .fetch_all(&mut *conn)
                        .await?;
                    sqlx::raw_sql("DEALLOCATE recoup_explained")
                        .execute(&mut *conn)
                        .await?;
                    rows.iter()
                        .map(|r| r.try_get::<String, _>(0))
                        .collect::<Result<_, _>>()?
                } else {
                    let mut q =
                        sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")));
                    for a in args {
                        q = match a {
                            Arg::Int(v) => q.bind(v),
                            Arg::Text(v) | Arg::Time(v) => q.bind(v),
                            Arg::Date(v) => q.bind(v),
                        };
                    }
                    q.fetch_all(&mut *conn)
                        .await?
                        .iter()
                        .map(|r| r.try_get::<String, _>(3))
                        .collect::<Result<_, _>>()?
                };
                plans.push((name, lines.join("\n")));
            }
            if pg {
                sqlx::raw_sql("RESET plan_cache_mode")
                    .execute(&mut *conn)
                    .await?;
            }
        });
        Ok(plans)
    }

    /// The value of PostgreSQL setting `name` on each of `n` pooled connections held at once (so
    /// they are distinct connections); empty on SQLite.
    pub async fn session_settings(&self, name: &str, n: usize) -> Result<Vec<String>, StoreError> {
        let crate::Backend::Postgres(pool, _) = &self.backend else {
            return Ok(Vec::new());
        };
        let mut held = Vec::with_capacity(n);
        for _ in 0..n {
            held.push(pool.acquire().await?);
        }
        let mut values = Vec::with_capacity(n);
        for conn in &mut held {
            values.push(
                sqlx::query_scalar("SELECT current_setting($1)")
                    .bind(name)
                    .fetch_one(&mut **conn)
                    .await?,
            );
        }
        Ok(values)
    }
}
