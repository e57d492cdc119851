//! What the store hands back: domain data plus what only storage knows (ids, times, running sums).

use chrono::{DateTime, NaiveDate, Utc};
use recoup_domain::account::{AccountData, AccountStatus, InvoiceData};
use recoup_domain::call::Outcome;
use recoup_domain::category::{Category, PaidInvoice};
use recoup_domain::policy::limits;
use recoup_domain::promise::{Promise, Received};
use recoup_domain::{Money, Violations};

use crate::calls::StoredCall;
use crate::disputes::StoredDispute;
use crate::plans::StoredPlan;

/// How to find an account.
#[derive(Debug, Clone, Copy)]
pub enum AccountKey<'a> {
    Id(i64),
    ExternalRef(&'a str),
}

/// An invoice with what storage knows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInvoice {
    pub id: i64,
    pub account_id: i64,
    pub data: InvoiceData,
    /// billed less payments; negative when over-credited.
    pub outstanding: Money,
    /// Payments allocated to it: (payment date, amount), oldest first; full reads only.
    pub payments: Vec<(NaiveDate, Money)>,
}

/// A recorded payment and how it was allocated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPayment {
    pub id: i64,
    pub account_id: i64,
    pub amount: Money,
    pub payment_date: NaiveDate,
    pub reference: String,
    pub invoice_numbers: Vec<String>,
    /// (invoice number, amount), in allocation order.
    pub allocations: Vec<(String, Money)>,
    pub unallocated: Money,
    pub create_time: DateTime<Utc>,
}

/// An account as read: profile and contacts in `data` (its `invoices` empty), the invoices with
/// something outstanding, and (full reads only) recent payments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSnapshot {
    pub id: i64,
    pub data: AccountData,
    /// Payments not allocated to any invoice.
    pub credit: Money,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    /// The lasting contact blocks recoup set from a call, which an import never lifts.
    pub held: HeldBlocks,
    /// Outstanding (non-zero) invoices, oldest due first.
    pub open_invoices: Vec<StoredInvoice>,
    /// Newest first, at most `RECENT_PAYMENTS`; empty unless a full read.
    pub recent_payments: Vec<StoredPayment>,
    /// Calls and promises; empty unless a full read.
    pub story: Story,
}

/// Lasting contact blocks recoup set from a call: laid over what the CRM imports (`data.status` and
/// `data.cease_calls` are the values in force) until lifted with a reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeldBlocks {
    /// A referral to an agency recorded on a call.
    pub agency: bool,
    /// The debtor asked on a call not to be called again.
    pub cease: bool,
}

/// What has happened on an account's calls, as far as the view and the rules need it. Only current
/// versions of records count: a corrected record gives way to its correction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Story {
    /// The newest calls, newest first (by start time), at most `RECENT_CALLS`.
    pub recent_calls: Vec<StoredCall>,
    /// Start times of the newest outbound calls, newest first, at most `RULE_HISTORY`.
    pub outbound: Vec<DateTime<Utc>>,
    /// The newest promises to pay, newest first, at most `RECENT_PROMISES`.
    pub promises: Vec<Promise>,
    /// Payments received from the oldest of those promises on.
    pub received: Vec<Received>,
    /// Disputes still open, oldest first: their invoices are paused.
    pub open_disputes: Vec<StoredDispute>,
    /// Invoices paid in full, newest due first, at most `PAID_HISTORY`.
    pub paid_history: Vec<PaidInvoice>,
    /// The category an agent set by hand, in force over the derived one.
    pub manual_category: Option<ManualCategory>,
    /// The newest plans, newest first, at most `RECENT_PLANS` (without their agreements); the
    /// live one, if any, is the first and carries the payments made towards it.
    pub plans: Vec<StoredPlan>,
    /// The newest letters sent, newest first, at most `RECENT_LETTERS`.
    pub letters: Vec<SentLetter>,
}

/// A letter sent: which, its subject, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentLetter {
    pub id: i64,
    pub kind: String,
    pub subject: String,
    pub time: DateTime<Utc>,
}

impl Story {
    /// The plan in play (awaiting approval, signature, or active), if any.
    pub fn live_plan(&self) -> Option<&StoredPlan> {
        self.plans.first().filter(|p| p.state.live())
    }
}

/// A debtor category set by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualCategory {
    pub category: Category,
    pub reason: String,
    pub set_by: String,
    pub set_time: DateTime<Utc>,
}

impl Story {
    /// When the debtor asked to be called back, if the latest call ended that way.
    pub fn callback(&self) -> Option<DateTime<Utc>> {
        match self.recent_calls.first().map(|c| &c.call.outcome) {
            Some(Outcome::CallbackRequested { time }) => Some(*time),
            _ => None,
        }
    }
}

/// Payments a full read returns per account.
pub const RECENT_PAYMENTS: i64 = 10;
/// Calls a full read returns per account (the category counts unanswered ones among them).
pub const RECENT_CALLS: i64 = 10;
/// Paid invoices a full read returns per account (the most `policy.category.history_invoices` may ask).
pub const PAID_HISTORY: i64 = limits::MAX_HISTORY_INVOICES as i64;
/// Letters a full read returns per account.
pub const RECENT_LETTERS: i64 = 10;
/// Plans a full read returns per account (the live one is always the newest).
pub const RECENT_PLANS: i64 = 5;
/// Promises a full read judges per account (the category counts broken ones among them).
pub const RECENT_PROMISES: i64 = 20;

// The view must hold as much history as any valid policy's category rules look back over.
const _: () = assert!(RECENT_CALLS >= limits::MAX_UNANSWERED_CALLS as i64);
const _: () = assert!(RECENT_PROMISES >= limits::MAX_BROKEN_PROMISES as i64);

/// What one imported record did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// The account's id.
    Created(i64),
    Updated(i64),
    Unchanged(i64),
    /// Refused against what is stored (e.g. a currency change under existing invoices); nothing written.
    Rejected(Violations),
}

/// ListAccounts filters. Day and amount filters count in each debtor's own time zone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub status: Option<AccountStatus>,
    /// At least one invoice this many days overdue; 0 for no filter.
    pub min_days_overdue: u32,
    /// Overdue total at least this, in this currency (other currencies' accounts are excluded).
    pub min_overdue: Option<Money>,
}
