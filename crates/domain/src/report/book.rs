//! The book's position at the end of a day: what is owed, how old it is, and the days-sales-
//! outstanding figures made from it. The past cannot be re-aged from today's records (payments and
//! imports have changed them), so the position is kept as a daily snapshot.

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;

use crate::ageing::{AgeingBucket, days_overdue};

/// The days of invoicing DSO compares the receivables with: the 90 days to the snapshot's day.
pub const SALES_DAYS: u64 = 90;

/// The first issue date counted as sales for a snapshot of `day`.
pub fn sales_since(day: NaiveDate) -> NaiveDate {
    day - Days::new(SALES_DAYS - 1)
}

/// An invoice with something outstanding, and what its account is.
#[derive(Debug, Clone, Copy)]
pub struct OpenInvoice {
    pub due: NaiveDate,
    pub outstanding: i64,
    pub disputed: bool,
    pub with_agency: bool,
    pub under_plan: bool,
}

/// One queue's book in one currency at a day's end, in minor units. Disputed amounts are set aside
/// as everywhere else: `receivables = current + the four buckets + disputed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// Everything outstanding.
    pub receivables: i64,
    /// Not yet due (and not disputed).
    pub current: i64,
    pub days_1_30: i64,
    pub days_31_60: i64,
    pub days_61_90: i64,
    pub over_90: i64,
    pub disputed: i64,
    /// Outstanding on accounts with a collection agency.
    pub with_agency: i64,
    /// Outstanding on accounts with an active plan.
    pub under_plan: i64,
    /// Invoiced in the `SALES_DAYS` days to the snapshot's day (the invoices recoup holds).
    pub sales: i64,
}

impl Position {
    /// Adds one open invoice to the position at the end of `day`.
    pub fn add_invoice(&mut self, i: &OpenInvoice, day: NaiveDate) {
        let outstanding = i.outstanding;
        self.receivables += outstanding;
        if i.with_agency {
            self.with_agency += outstanding;
        }
        if i.under_plan {
            self.under_plan += outstanding;
        }
        if i.disputed {
            self.disputed += outstanding;
            return;
        }
        match AgeingBucket::for_days(days_overdue(i.due, day)) {
            AgeingBucket::Current => self.current += outstanding,
            AgeingBucket::Days1To30 => self.days_1_30 += outstanding,
            AgeingBucket::Days31To60 => self.days_31_60 += outstanding,
            AgeingBucket::Days61To90 => self.days_61_90 += outstanding,
            AgeingBucket::Over90 => self.over_90 += outstanding,
        }
    }

    pub fn merge(&mut self, o: &Position) {
        self.receivables += o.receivables;
        self.current += o.current;
        self.days_1_30 += o.days_1_30;
        self.days_31_60 += o.days_31_60;
        self.days_61_90 += o.days_61_90;
        self.over_90 += o.over_90;
        self.disputed += o.disputed;
        self.with_agency += o.with_agency;
        self.under_plan += o.under_plan;
        self.sales += o.sales;
    }

    /// Days sales outstanding, the Credit Research Foundation's standard form: receivables at
    /// the day's end / sales of the `SALES_DAYS` days to it × `SALES_DAYS`. `None` without sales.
    pub fn dso(&self) -> Option<Decimal> {
        self.days_of_sales(self.receivables)
    }

    /// Best possible DSO (CRF): current receivables / sales × days.
    pub fn best_possible_dso(&self) -> Option<Decimal> {
        self.days_of_sales(self.current)
    }

    /// Average days delinquent (CRF): DSO − best possible DSO.
    pub fn average_days_delinquent(&self) -> Option<Decimal> {
        self.days_of_sales(self.receivables - self.current)
    }

    fn days_of_sales(&self, amount: i64) -> Option<Decimal> {
        (self.sales != 0).then(|| {
            super::kpis::places(
                Decimal::from(amount) * Decimal::from(SALES_DAYS) / Decimal::from(self.sales),
                2,
            )
        })
    }
}
