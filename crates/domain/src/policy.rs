//! The house rules an operator sets in the policy file, as the rules use them. The defaults are the
//! practice in DOMAIN.md; what makes a policy valid is `validate`; the file's format and its
//! precedence live in the server.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, NaiveTime};

mod validate;
pub use validate::NOT_A_PERCENTAGE;

/// The largest values a valid policy may set where something else must be sized for them: the
/// stored account view keeps enough of each history for any valid policy (the store checks its
/// windows against these when it is built).
pub mod limits {
    /// Outbound calls a day.
    pub const MAX_CALLS_PER_DAY: u32 = 20;
    /// Outbound calls in a rolling window.
    pub const MAX_ROLLING_CALLS: u32 = 100;
    /// The most outbound calls the contact rules count back over.
    pub const MOST_CALLS_COUNTED: u32 = if MAX_ROLLING_CALLS > MAX_CALLS_PER_DAY {
        MAX_ROLLING_CALLS
    } else {
        MAX_CALLS_PER_DAY
    };
    /// Latest calls in a row without an answer that make an avoider.
    pub const MAX_UNANSWERED_CALLS: u32 = 10;
    /// Broken promises that make an avoider.
    pub const MAX_BROKEN_PROMISES: u32 = 20;
    /// Paid invoices the category looks back over.
    pub const MAX_HISTORY_INVOICES: u32 = 50;
    /// The creditor's name as written agreements give it.
    pub const MAX_CREDITOR_NAME_CHARS: usize = 200;
    /// Reference rates, percent a year.
    pub const MIN_RATE_PERCENT: i64 = -5;
    pub const MAX_RATE_PERCENT: i64 = 50;
}

/// Every rule family's settings. Later capabilities (plans, categories, interest) add a field each.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    pub contact: ContactPolicy,
    pub promises: PromisePolicy,
    pub interest: crate::interest::InterestPolicy,
    pub category: crate::category::CategoryPolicy,
    pub plans: crate::plan::PlanPolicy,
    pub guidance: GuidancePolicy,
    pub floor: FloorPolicy,
    pub requests: RequestsPolicy,
    pub reporting: ReportingPolicy,
}

/// How the manager's figures are counted (`report`): the calendar their days are in, and how long
/// after a promise a payment is credited to the agent who took it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportingPolicy {
    pub time_zone: chrono_tz::Tz,
    pub attribution_days: u32,
}

impl Default for ReportingPolicy {
    fn default() -> Self {
        Self {
            time_zone: chrono_tz::Europe::London,
            attribution_days: 7,
        }
    }
}

/// How long the idempotency ledger remembers a request: a retry within `keep_days` of the first
/// request is answered with its result; past it the key is forgotten (a resend is a new request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestsPolicy {
    pub keep_days: u32,
}

impl Default for RequestsPolicy {
    fn default() -> Self {
        Self { keep_days: 30 }
    }
}

/// How agents share the book: claims (an account reserved for one agent while the call is
/// prepared and made), how late a call may be recorded, and the currency ranking compares in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloorPolicy {
    /// Minutes a claim holds an account, from the claim or its latest extension.
    pub claim_minutes: u32,
    /// Minutes at most one claim may hold an account in all, extensions included.
    pub max_claim_minutes: u32,
    /// Claims one agent may hold at once.
    pub max_claims_per_agent: u32,
    /// Days back a call's start may be when an agent records it (imports of history are not bound).
    pub max_record_age_days: u32,
    /// The currency the worklist compares overdue amounts in, with `rates`: units of it per unit
    /// of each other currency. `None`: each account's amounts rank in its own currency, so a
    /// queue should hold one currency.
    pub base_currency: Option<crate::money::Currency>,
    /// By ISO 4217 code.
    pub rates: std::collections::BTreeMap<String, rust_decimal::Decimal>,
}

impl FloorPolicy {
    /// Units of the base currency per unit of `c`: 1 for the base itself, the configured rate, or
    /// `None` without a base currency or a rate for `c`.
    pub fn rate(&self, c: crate::money::Currency) -> Option<rust_decimal::Decimal> {
        let base = self.base_currency?;
        if c == base {
            Some(rust_decimal::Decimal::ONE)
        } else {
            self.rates.get(c.code()).copied()
        }
    }
}

impl Default for FloorPolicy {
    fn default() -> Self {
        Self {
            claim_minutes: 5,
            max_claim_minutes: 30,
            max_claims_per_agent: 1,
            max_record_age_days: 7,
            base_currency: None,
            rates: Default::default(),
        }
    }
}

/// What call guidance and letters say about time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuidancePolicy {
    /// Days a final notice (call or letter) gives to pay; the agency referral follows the day after.
    pub final_notice_days: u32,
    /// Days a firm call or a second reminder gives to pay; the next step (a final notice, or the
    /// agency referral once one was sent) follows the day after.
    pub firm_deadline_days: u32,
    /// Days back a payment counts as recent: it may have crossed with our chasing.
    pub recent_payment_days: u32,
}

impl Default for GuidancePolicy {
    fn default() -> Self {
        Self {
            final_notice_days: 14,
            firm_deadline_days: 7,
            recent_payment_days: 14,
        }
    }
}

/// The days of the week as a policy names them (`contact.calling_hours.friday`), Monday first, in
/// the order of `ContactPolicy::hours`.
pub const DAY_KEYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Calling hours on one day in the debtor's local time: from `start` (inclusive) to `end`
/// (exclusive); `start < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// A house rule on top of the daily limit, e.g. at most 7 outbound calls in any 7 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollingLimit {
    pub max_calls: u32,
    pub days: u32,
}

/// When an account may be called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactPolicy {
    /// Outbound attempts per account per calendar day in the debtor's time zone; at least 1.
    pub max_calls_per_day: u32,
    pub rolling_limit: Option<RollingLimit>,
    /// By weekday, Monday first; `None` means no calls that day.
    pub hours: [Option<DayHours>; 7],
    /// Dates (in the debtor's calendar) with no calls, e.g. public holidays.
    pub non_working_dates: BTreeSet<NaiveDate>,
    /// How long after the time a debtor asked to be called back the callback may still be made,
    /// whatever the call limits and calling hours say: the debtor chose the time.
    pub callback_window_minutes: u32,
}

impl ContactPolicy {
    /// The calling hours on a date in the debtor's calendar, if calls are made that day.
    pub fn hours_on(&self, date: NaiveDate) -> Option<DayHours> {
        if self.non_working_dates.contains(&date) {
            return None;
        }
        self.hours[date.weekday().num_days_from_monday() as usize]
    }
}

impl Default for ContactPolicy {
    fn default() -> Self {
        let office = Some(DayHours {
            start: NaiveTime::from_hms_opt(9, 0, 0).expect("valid time"),
            end: NaiveTime::from_hms_opt(17, 30, 0).expect("valid time"),
        });
        Self {
            max_calls_per_day: 1,
            rolling_limit: None,
            hours: [office, office, office, office, office, None, None],
            non_working_dates: BTreeSet::new(),
            callback_window_minutes: 30,
        }
    }
}

/// How promises to pay are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromisePolicy {
    /// Days after the promised date that a payment still counts as keeping the promise.
    pub grace_days: u32,
    /// The window, in days back from today, in which broken promises are counted on the account.
    pub broken_window_days: u32,
    /// The furthest ahead a promised date may be; a promise further out is a plan, not a promise.
    pub max_days_ahead: u32,
}

impl Default for PromisePolicy {
    fn default() -> Self {
        Self {
            grace_days: 3,
            broken_window_days: 90,
            max_days_ahead: 60,
        }
    }
}
