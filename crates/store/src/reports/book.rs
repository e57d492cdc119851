//! The book's position at a day's end (`report_book`), taken once a day by a background pass:
//! open invoices read a page at a time and aged by the domain's rule (`report::book::Position`),
//! the 90 days' invoicing summed, and written with the day's marker in one transaction, which a
//! second replica taking the same day finds and leaves.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use recoup_domain::report::book::{OpenInvoice, Position, sales_since};
use serde_json::json;

use crate::{Store, StoreError, retrying, store_time, with_reader, with_writer};

/// Open invoices read per query while the book is taken.
const PAGE: i64 = 20_000;

/// Each day `$1..=$2` whose book was taken, with its positions (none for a book with nothing owed).
pub(crate) const BOOKS_SQL: &str = "SELECT d.day, b.queue, b.currency, b.receivables_minor, \
     b.current_minor, b.days_1_30_minor, b.days_31_60_minor, b.days_61_90_minor, b.over_90_minor, \
     b.disputed_minor, b.with_agency_minor, b.under_plan_minor, b.sales_minor \
     FROM report_book_days d LEFT JOIN report_book b ON b.day = d.day \
     WHERE d.day >= $1 AND d.day <= $2";

/// A position by (queue, currency).
pub type Book = BTreeMap<(String, String), Position>;

impl Store {
    /// Whether the book at the end of `day` has been taken.
    pub async fn book_taken(&self, day: NaiveDate) -> Result<bool, StoreError> {
        Ok(with_reader!(&self.backend, |pool, pg| {
            sqlx::query_scalar::<_, NaiveDate>("SELECT day FROM report_book_days WHERE day = $1")
                .bind(day)
                .fetch_optional(pool)
                .await?
                .is_some()
        }))
    }

    /// Takes the book at the end of `day` as the records stand at `now` (invoices aged to `day`);
    /// returns false when it had been taken already.
    pub async fn take_book(&self, day: NaiveDate, now: DateTime<Utc>) -> Result<bool, StoreError> {
        if self.book_taken(day).await? {
            return Ok(false);
        }
        let mut book = Book::new();
        let mut after = 0_i64;
        loop {
            type Row = (i64, String, String, NaiveDate, i64, bool, bool, bool);
            let rows: Vec<Row> = with_reader!(&self.backend, |pool, pg| {
                sqlx::query_as(
                    "SELECT i.id, a.queue, a.currency_code, i.due_date, i.outstanding_minor, \
                     i.disputed, a.status = 'with_agency', EXISTS (SELECT 1 FROM plans p \
                     WHERE p.account_id = a.id AND p.state = 'active') \
                     FROM invoices i JOIN accounts a ON a.id = i.account_id \
                     WHERE i.id > $1 AND i.outstanding_minor > 0 ORDER BY i.id LIMIT $2",
                )
                .bind(after)
                .bind(PAGE)
                .fetch_all(pool)
                .await?
            });
            let Some(last) = rows.last().map(|r| r.0) else {
                break;
            };
            for (_, queue, currency, due, outstanding, disputed, with_agency, under_plan) in rows {
                let invoice = OpenInvoice {
                    due,
                    outstanding,
                    disputed,
                    with_agency,
                    under_plan,
                };
                book.entry((queue, currency))
                    .or_default()
                    .add_invoice(&invoice, day);
            }
            after = last;
        }
        let sales: Vec<(String, String, i64)> = with_reader!(&self.backend, |pool, pg| {
            sqlx::query_as(
                "SELECT a.queue, a.currency_code, CAST(SUM(i.amount_minor) AS BIGINT) \
                 FROM invoices i JOIN accounts a ON a.id = i.account_id \
                 WHERE i.issue_date >= $1 AND i.issue_date <= $2 GROUP BY a.queue, a.currency_code",
            )
            .bind(sales_since(day))
            .bind(day)
            .fetch_all(pool)
            .await?
        });
        for (queue, currency, sum) in sales {
            book.entry((queue, currency)).or_default().sales = sum;
        }
        let rows: Vec<_> = book
            .iter()
            .map(|((queue, currency), p)| {
                json!([
                    queue,
                    currency,
                    p.receivables,
                    p.current,
                    p.days_1_30,
                    p.days_31_60,
                    p.days_61_90,
                    p.over_90,
                    p.disputed,
                    p.with_agency,
                    p.under_plan,
                    p.sales
                ])
            })
            .collect();
        let rows = serde_json::Value::Array(rows).to_string();
        let now = store_time(now);
        retrying!(&self.backend, async {
            Ok(with_writer!(&self.backend, |pool, pg| {
                use crate::sets::{int, text};
                let mut tx = if pg {
                    pool.begin().await?
                } else {
                    pool.begin_with("BEGIN IMMEDIATE").await?
                };
                let marked = sqlx::query(
                    "INSERT INTO report_book_days (day, take_time) VALUES ($1, $2) \
                     ON CONFLICT (day) DO NOTHING",
                )
                .bind(day)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if marked == 0 {
                    return Ok(false);
                }
                let columns: Vec<String> = (2..12).map(int).collect();
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO report_book (day, queue, currency, receivables_minor, \
                     current_minor, days_1_30_minor, days_31_60_minor, days_61_90_minor, \
                     over_90_minor, disputed_minor, with_agency_minor, under_plan_minor, \
                     sales_minor) SELECT $2, {}, {}, {} FROM {}",
                    text(0),
                    text(1),
                    columns.join(", "),
                    crate::sets::rows(pg, 1)
                )))
                .bind(&rows)
                .bind(day)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                true
            }))
        })
    }

    /// The books taken at the ends of days `from..=to`: each day taken, with its positions.
    pub async fn books(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<BTreeMap<NaiveDate, Book>, StoreError> {
        let rows: Vec<BookRow> = with_reader!(&self.backend, |pool, pg| {
            sqlx::query_as(BOOKS_SQL)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?
        });
        let mut out: BTreeMap<NaiveDate, Book> = BTreeMap::new();
        for (day, queue, currency, r, c, d1, d31, d61, d90, disputed, agency, plan, sales) in rows {
            let book = out.entry(day).or_default();
            let (Some(queue), Some(currency)) = (queue, currency) else {
                continue;
            };
            // A row that exists has every amount (NOT NULL).
            let p = Position {
                receivables: r.unwrap_or_default(),
                current: c.unwrap_or_default(),
                days_1_30: d1.unwrap_or_default(),
                days_31_60: d31.unwrap_or_default(),
                days_61_90: d61.unwrap_or_default(),
                over_90: d90.unwrap_or_default(),
                disputed: disputed.unwrap_or_default(),
                with_agency: agency.unwrap_or_default(),
                under_plan: plan.unwrap_or_default(),
                sales: sales.unwrap_or_default(),
            };
            book.insert((queue, currency), p);
        }
        Ok(out)
    }
}

/// A stored position: the day, then (all absent for a day whose book held nothing) queue,
/// currency and the ten amounts in `Position`'s order.
type BookRow = (
    NaiveDate,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);
