//! What the planner does at scale: every hot statement and background poll planned on a
//! 100,000-account book (PostgreSQL: its generic plan), and PostgreSQL sessions that never JIT.

use recoup_store::bulk;
use recoup_store::testkit::TestDb;

/// Accounts in the book the plans are looked at on: the size at which PostgreSQL's generic plans
/// stalled writes while every small test book planned well.
const BOOK: u64 = 100_000;

/// Tables that hold many rows in a worked book (and the aliases the statements give them): a full
/// scan of one of these on a hot path grows with the book.
const LARGE: &[&str] = &[
    "accounts",
    "a",
    "contacts",
    "k",
    "invoices",
    "i",
    "v",
    "invoice_adjustments",
    "j",
    "payments",
    "payment_allocations",
    "pa",
    "calls",
    "c",
    "x",
    "events",
    "worklist",
    "w",
    "requests",
    "q",
    "claims",
];

/// Partial indexes whose every row a poll wants (or a page walks in order, stopping at its
/// size): walking one is what it is for.
const PARTIAL: &[&str] = &["accounts_view_stale", "worklist_stale", "calls_breached"];

/// The table a full-scan line of a plan names, if it is one.
fn full_scan(backend: &str, line: &str) -> Option<String> {
    let line = line.trim_start().trim_start_matches("->").trim_start();
    let rest = if backend == "postgres" {
        line.strip_prefix("Seq Scan on ")?
    } else {
        // The partial indexes of stale views, stale worklist entries and breached calls hold
        // just the rows wanted.
        if PARTIAL
            .iter()
            .any(|index| line.contains(&format!("USING INDEX {index}")))
        {
            return None;
        }
        line.strip_prefix("SCAN ")?
    };
    let name = rest.split_whitespace().next()?;
    LARGE.contains(&name).then(|| name.to_owned())
}

/// On a freshly loaded 100k book with its statistics refreshed (as an import refreshes them), no
/// hot statement or background poll scans a large table, on either backend, and on PostgreSQL
/// with the generic plan a pooled connection settles on.
#[tokio::test]
async fn hot_statements_use_indexes_at_scale_sqlite() {
    plans_at_scale(TestDb::sqlite()).await;
}

#[tokio::test]
async fn hot_statements_use_indexes_at_scale_postgres() {
    if let Some(db) = TestDb::postgres().await {
        plans_at_scale(db).await;
    }
}

async fn plans_at_scale(db: TestDb) {
    let backend = db.backend;
    db.store().await.unwrap().close().await;
    let started = std::time::Instant::now();
    bulk::load_scale_book(&db.url, BOOK).await.unwrap();
    println!(
        "{backend}: {BOOK} accounts loaded in {:?}",
        started.elapsed()
    );
    // First with the statistics an import leaves (the tables it writes analysed, the others
    // as PostgreSQL guesses them when autovacuum has not run: it is off on some machines),
    // then with every table analysed, as autovacuum leaves a worked book.
    for statistics in ["imported tables analysed", "every table analysed"] {
        let store = db.store().await.unwrap();
        if statistics == "every table analysed" {
            db.execute("ANALYZE").await;
        } else {
            store.refresh_statistics().await.unwrap();
        }
        store.close().await;
        // A fresh store: SQLite's readers read the statistics when they connect.
        let store = db.store().await.unwrap();
        let plans = store.query_plans().await.unwrap();
        let mut scans = Vec::new();
        for (name, plan) in &plans {
            println!("{backend} ({statistics}) {name}:\n{plan}\n");
            for line in plan.lines() {
                if let Some(table) = full_scan(backend, line) {
                    scans.push(format!("{name} scans {table}:\n{plan}"));
                }
            }
        }
        assert!(
            scans.is_empty(),
            "{backend} ({statistics}): full scans at scale:\n\n{}",
            scans.join("\n\n")
        );
        store.close().await;
    }
    db.cleanup().await;
}

/// recoup's PostgreSQL sessions run without JIT, with the generic plans the scale test checks,
/// even where the server's configuration says otherwise for the database, and name themselves in
/// pg_stat_activity.
#[tokio::test]
async fn postgres_sessions_never_jit() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    db.store().await.unwrap().close().await;
    db.execute(
        "DO $$ BEGIN \
         EXECUTE format('ALTER DATABASE %I SET jit = on', current_database()); \
         EXECUTE format('ALTER DATABASE %I SET plan_cache_mode = auto', current_database()); \
         END $$",
    )
    .await;
    let store = db.store().await.unwrap();
    assert_eq!(
        store.session_settings("jit", 4).await.unwrap(),
        ["off"; 4],
        "JIT is on in a recoup session"
    );
    assert_eq!(
        store.session_settings("plan_cache_mode", 4).await.unwrap(),
        ["force_generic_plan"; 4],
        "recoup's statements are planned once per session, as the scale test checks them"
    );
    assert_eq!(
        store.session_settings("application_name", 1).await.unwrap(),
        ["recoupd"]
    );
    store.close().await;
    db.cleanup().await;
}
