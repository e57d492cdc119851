//! The document's shape, defined once: each section's key, and each row's fields with the SQL
//! expression that builds each one. The database builds the JSON from these (`view::document`), the
//! writer encodes a snapshot into the same shape, and reading a stored view decodes it; a row is a
//! JSON array (its fields in order), which keeps stored views small.

use serde::{Deserialize, Serialize};

use crate::plans::DetailJson;

/// A row of the document: the struct it reads into and writes from, and `COLUMNS`, the SQL
/// expression of each field in the same order (`{name}` stands for a nested section, put in by
/// `view::document`). Written as a JSON array in field order; a field marked `#[serde(default)]` at
/// the end may be missing from documents stored before it existed.
macro_rules! row {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident: $ty:ty = $col:literal,)* }) => {
        $(#[$m])*
        #[derive(Deserialize)]
        pub(crate) struct $name {
            $($(#[$fm])* pub $field: $ty,)*
        }

        impl $name {
            pub const COLUMNS: &'static [&'static str] = &[$($col),*];
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeTuple;
                let mut t = s.serialize_tuple(Self::COLUMNS.len())?;
                $(t.serialize_element(&self.$field)?;)*
                t.end()
            }
        }
    };
}

/// The document: each section under its (short) key, and the SQL expression of each section by
/// the same field name (`Sections::object` builds the JSON object from them).
macro_rules! document {
    ($($(#[$fm:meta])* $field:ident: $ty:ty = $key:literal,)*) => {
        #[derive(Serialize, Deserialize)]
        pub(crate) struct Document {
            $($(#[$fm])* #[serde(rename = $key)] pub $field: $ty,)*
        }

        /// The SQL expression that builds each section of the document.
        pub(crate) struct Sections {
            $(pub $field: String,)*
        }

        impl Sections {
            /// The SQL expression of the whole document, as text.
            pub fn object(&self, pg: bool) -> String {
                let parts = [$(format!("'{}', {}", $key, self.$field)),*].join(", ");
                if pg {
                    format!("json_build_object({parts})::text")
                } else {
                    format!("json_object({parts})")
                }
            }
        }
    };
}

// Flags are written as 0/1 alike by both backends (PostgreSQL's are booleans, SQLite's integers).
row!(
    /// The account's own columns.
    AccountJson {
        id: i64 = "a.id",
        external_ref: String = "a.external_ref",
        legal_name: String = "a.legal_name",
        debtor_type: String = "a.debtor_type",
        country_code: String = "a.country_code",
        time_zone: String = "a.time_zone",
        currency: String = "a.currency_code",
        status: String = "a.status",
        cease_calls: i64 = "CASE WHEN a.cease_calls THEN 1 ELSE 0 END",
        credit: i64 = "a.credit_minor",
        create_time: String = "a.create_time",
        update_time: String = "a.update_time",
        interest_waived: i64 = "CASE WHEN a.interest_waived THEN 1 ELSE 0 END",
        #[serde(default)]
        queue: String = "a.queue",
        /// recoup's lasting blocks: 1 the agency referral, 2 the debtor's request not to call.
        #[serde(default)]
        held: i64 = "(CASE WHEN a.held_agency THEN 1 ELSE 0 END) + (CASE WHEN a.held_cease THEN 2 ELSE 0 END)",
    }
);

row!(ContactJson {
    display_name: String = "k.display_name",
    role: String = "k.role",
    phone: String = "k.phone",
    email: String = "k.email",
    preferred: i64 = "CASE WHEN k.preferred THEN 1 ELSE 0 END",
});

row!(AdjustmentJson {
    reference: String = "j.reference",
    kind: String = "j.kind",
    amount: i64 = "j.amount_minor",
    date: String = "j.date",
    reason: String = "j.reason",
});

row!(
    /// An invoice with something outstanding.
    InvoiceJson {
        id: i64 = "i.id",
        number: String = "i.number",
        issue_date: String = "i.issue_date",
        due_date: String = "i.due_date",
        amount: i64 = "i.amount_minor",
        outstanding: i64 = "i.outstanding_minor",
        disputed: i64 = "CASE WHEN i.disputed THEN 1 ELSE 0 END",
        dispute_reason: String = "i.dispute_reason",
        adjustments: Vec<AdjustmentJson> = "{adjustments}",
    }
);

row!(AllocationJson {
    number: String = "v.number",
    amount: i64 = "pa.amount_minor",
});

row!(PaymentJson {
    id: i64 = "p.id",
    amount: i64 = "p.amount_minor",
    payment_date: String = "p.payment_date",
    reference: String = "p.reference",
    invoice_numbers: String = "p.invoice_numbers",
    unallocated: i64 = "p.unallocated_minor",
    create_time: String = "p.create_time",
    allocations: Vec<AllocationJson> = "{allocations}",
});

row!(
    /// A current call (one no later record corrects).
    CallJson {
        id: i64 = "n.id",
        account_id: i64 = "n.account_id",
        direction: String = "n.direction",
        start_time: String = "n.start_time",
        duration_ms: Option<i64> = "n.duration_ms",
        contact_name: String = "n.contact_name",
        right_party: i64 = "CASE WHEN n.right_party THEN 1 ELSE 0 END",
        outcome: String = "n.outcome",
        details: String = "n.details",
        notes: String = "n.notes",
        next_step: String = "n.next_step",
        override_reason: Option<String> = "n.override_reason",
        override_by: Option<String> = "n.override_by",
        corrects: Option<i64> = "n.corrects",
        correction_reason: Option<String> = "n.correction_reason",
        agent: String = "n.agent",
        create_time: String = "n.create_time",
        #[serde(default)]
        claim_id: Option<i64> = "n.claim_id",
        #[serde(default)]
        breaches: Option<String> = "n.breaches",
        #[serde(default)]
        origin: String = "n.origin",
        #[serde(default)]
        crm_id: Option<String> = "n.crm_id",
        #[serde(default)]
        asked_not_to_call: Option<String> = "n.asked_not_to_call",
    }
);

row!(
    /// A promise to pay, from the call that took it.
    PromiseJson {
        call_id: i64 = "n.id",
        made: String = "n.start_time",
        amount: i64 = "n.promise_minor",
        date: String = "n.promise_date",
    }
);

row!(
    /// A payment a promise may be kept by (`rp`), or one the live plan is tracked against (`pp`).
    ReceivedJson {
        date: String = "{table}.payment_date",
        amount: i64 = "{table}.amount_minor",
    }
);

row!(
    /// An open dispute.
    DisputeJson {
        id: i64 = "d.id",
        reason: String = "d.reason",
        raised_by: String = "d.raised_by",
        raise_time: String = "d.raise_time",
        call_id: Option<i64> = "d.call_id",
        invoice_numbers: Vec<String> = "{numbers}",
    }
);

row!(
    /// A payment's part of an open invoice: statutory interest runs on what was left.
    PaidInJson {
        invoice_id: i64 = "ai.id",
        date: String = "ap.payment_date",
        amount: i64 = "aa.amount_minor",
    }
);

row!(
    /// An invoice paid in full: when it was due and the day its last payment came.
    PaidHistoryJson {
        due_date: String = "h.due_date",
        settled_on: String = "h.settled_on",
    }
);

row!(
    /// The manual category: every column set, or none.
    ManualJson {
        category: Option<String> = "a.manual_category",
        reason: Option<String> = "a.category_reason",
        set_by: Option<String> = "a.category_set_by",
        set_time: Option<String> = "a.category_set_time",
    }
);

row!(
    /// A plan, without its agreement.
    PlanJson {
        id: i64 = "pl.id",
        state: String = "pl.state",
        detail: DetailJson = "{detail}",
        proposed_by: String = "pl.proposed_by",
        approval_role: Option<String> = "pl.approval_role",
        approved_by: Option<String> = "pl.approved_by",
        approve_time: Option<String> = "pl.approve_time",
        signatory: Option<String> = "pl.signatory",
        sign_time: Option<String> = "pl.sign_time",
        create_time: String = "pl.create_time",
        end_reason: Option<String> = "pl.end_reason",
        end_time: Option<String> = "pl.end_time",
        #[serde(default)]
        end_missed: Option<i64> = "pl.end_missed",
        #[serde(default)]
        end_arrears: Option<i64> = "pl.end_arrears_minor",
    }
);

row!(
    /// A plan as a change left it, kept in the change's event (not part of the document).
    PlanEventJson {
        plan: PlanJson = "{plan}",
        agreement: String = "pl.agreement",
        receipts: Vec<ReceivedJson> = "{receipts}",
    }
);

row!(
    /// A letter sent: which, and when.
    LetterJson {
        id: i64 = "lt.id",
        kind: String = "lt.kind",
        subject: String = "lt.subject",
        create_time: String = "lt.create_time",
    }
);

// Documents stored before the story sections existed read with them empty (there were no calls).
document!(
    account: AccountJson = "a",
    contacts: Vec<ContactJson> = "c",
    invoices: Vec<InvoiceJson> = "i",
    payments: Vec<PaymentJson> = "p",
    #[serde(default)]
    calls: Vec<CallJson> = "k",
    /// Start times of the newest outbound calls.
    #[serde(default)]
    outbound: Vec<String> = "o",
    #[serde(default)]
    promises: Vec<PromiseJson> = "pr",
    #[serde(default)]
    received: Vec<ReceivedJson> = "rc",
    #[serde(default)]
    disputes: Vec<DisputeJson> = "d",
    #[serde(default)]
    paid_in: Vec<PaidInJson> = "ia",
    #[serde(default)]
    paid_history: Vec<PaidHistoryJson> = "ph",
    #[serde(default)]
    manual: Option<ManualJson> = "mc",
    #[serde(default)]
    plans: Vec<PlanJson> = "pl",
    /// Payments since the live plan was agreed.
    #[serde(default)]
    plan_paid: Vec<ReceivedJson> = "pp",
    #[serde(default)]
    letters: Vec<LetterJson> = "lt",
);
