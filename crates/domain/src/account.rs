//! The account model as imported from a CRM, and the rules a record must satisfy before it is stored.

use std::collections::HashSet;
use std::str::FromStr;

use chrono::NaiveDate;
use chrono_tz::Tz;
use rust_decimal::Decimal;

use crate::money::{Currency, Money};
use crate::violations::Violations;

/// Longest external ref, invoice number, adjustment reference or request id.
pub const MAX_REF_CHARS: usize = 64;
/// Longest legal or contact name.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest contact role.
pub const MAX_ROLE_CHARS: usize = 100;
/// Longest phone number.
pub const MAX_PHONE_CHARS: usize = 32;
/// Longest email address (RFC 5321 path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// Longest reason (dispute, adjustment).
pub const MAX_REASON_CHARS: usize = 500;
/// Most contacts on one account.
pub const MAX_CONTACTS: usize = 20;
/// Most invoices in one imported record; larger books arrive as several records over time.
pub const MAX_INVOICES_PER_RECORD: usize = 1000;
/// Most open (unpaid) invoices one account holds. Imports never remove invoices, so without it
/// repeated records under one reference would grow an account (its view, guidance and every letter
/// list them all) without bound; an import that would take an account past it is refused.
pub const MAX_OPEN_INVOICES: usize = 1000;
/// Most adjustments on one invoice.
pub const MAX_ADJUSTMENTS: usize = 100;

macro_rules! stored_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// The stable text stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Reads the stored text back.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

pub(crate) use stored_enum;

stored_enum!(
    /// The debtor's legal form.
    DebtorType { Company = "company", SoleTrader = "sole_trader", Partnership = "partnership" }
);

stored_enum!(
    /// Where the account stands in the collection process.
    AccountStatus { Active = "active", OnHold = "on_hold", WithAgency = "with_agency", Closed = "closed" }
);

stored_enum!(
    /// Credit notes reduce what is owed; debit adjustments increase it.
    AdjustmentKind { CreditNote = "credit_note", Debit = "debit" }
);

/// A person at the debtor to speak to. Its Debug hides the personal fields (see below).
#[derive(Clone, PartialEq, Eq)]
pub struct Contact {
    pub display_name: String,
    pub role: String,
    pub phone: String,
    pub email: String,
    pub preferred: bool,
}

impl std::fmt::Debug for Contact {
    /// Personal details never reach a log through `{:?}`; only their presence shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |s: &str| if s.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("Contact")
            .field("display_name", &shown(&self.display_name))
            .field("role", &shown(&self.role))
            .field("phone", &shown(&self.phone))
            .field("email", &shown(&self.email))
            .field("preferred", &self.preferred)
            .finish()
    }
}

/// A credit note or adjustment against one invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    pub reference: String,
    pub kind: AdjustmentKind,
    pub amount: Money,
    pub date: NaiveDate,
    pub reason: String,
}

/// An invoice as the CRM knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceData {
    pub number: String,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    pub amount: Money,
    pub adjustments: Vec<Adjustment>,
    pub disputed: bool,
    pub dispute_reason: String,
}

impl InvoiceData {
    /// What the invoice asks for once its adjustments apply, before payments.
    pub fn billed(&self) -> Decimal {
        self.adjustments
            .iter()
            .fold(self.amount.amount(), |sum, a| match a.kind {
                AdjustmentKind::CreditNote => sum - a.amount.amount(),
                AdjustmentKind::Debit => sum + a.amount.amount(),
            })
    }
}

/// An account record as imported: the profile, its contacts and (some of) its invoices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountData {
    pub external_ref: String,
    pub legal_name: String,
    pub debtor_type: DebtorType,
    pub country_code: String,
    pub time_zone: Tz,
    pub currency: Currency,
    pub status: AccountStatus,
    pub cease_calls: bool,
    /// Statutory late-payment interest is not shown for this account (e.g. waived by agreement).
    pub interest_waived: bool,
    /// The queue the account is worked in (`DEFAULT_QUEUE` unless the CRM says).
    pub queue: String,
    pub contacts: Vec<Contact>,
    pub invoices: Vec<InvoiceData>,
}

/// The queue of an account the CRM puts in none.
pub const DEFAULT_QUEUE: &str = "default";
/// Longest queue name.
pub const MAX_QUEUE_CHARS: usize = 64;

/// Whether `q` is a queue name: lower-case ASCII letters, digits, `-` and `_`, at most
/// `MAX_QUEUE_CHARS`, so it can be typed, put in a key's limits and logged as it is.
pub fn is_queue_name(q: &str) -> bool {
    !q.is_empty()
        && q.len() <= MAX_QUEUE_CHARS
        && q.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// What makes `q` not a queue name, for a violation.
pub const QUEUE_RULE: &str =
    "must be 1 to 64 lower-case letters, digits, '-' or '_' (e.g. \"emea-gbp\")";

/// Every rule an account record breaks, with field paths relative to the record.
pub fn validate_account(a: &AccountData) -> Violations {
    let mut v = validate_profile(&a.external_ref, &a.legal_name, &a.country_code, &a.contacts);
    if !is_queue_name(&a.queue) {
        v.push("queue", QUEUE_RULE);
    }
    validate_invoices(&mut v, &a.invoices, a.currency);
    v
}

/// The rules on an account's own fields and contacts, which need nothing parsed.
pub fn validate_profile(
    external_ref: &str,
    legal_name: &str,
    country_code: &str,
    contacts: &[Contact],
) -> Violations {
    let mut v = Violations::new();
    v.identifier("external_ref", external_ref, MAX_REF_CHARS);
    v.required_line("legal_name", legal_name, MAX_NAME_CHARS);
    if country_code.is_empty() {
        v.push("country_code", "is required");
    } else if !is_country_code(country_code) {
        v.push(
            "country_code",
            format!(
                "'{country_code}' is not an ISO 3166-1 alpha-2 country code (upper case, e.g. GB, IE, DE)"
            ),
        );
    }
    if contacts.len() > MAX_CONTACTS {
        v.push(
            "contacts",
            format!(
                "has {} contacts; at most {MAX_CONTACTS} are allowed",
                contacts.len()
            ),
        );
    }
    for (i, c) in contacts.iter().enumerate() {
        v.extend_prefixed(&format!("contacts[{i}]"), validate_contact(c));
    }
    if contacts.iter().filter(|c| c.preferred).count() > 1 {
        v.push("contacts", "at most one contact may be preferred");
    }
    v
}

/// The rules on a record's invoices, for an account invoiced in `currency`.
pub fn validate_invoices(v: &mut Violations, invoices: &[InvoiceData], currency: Currency) {
    if invoices.len() > MAX_INVOICES_PER_RECORD {
        v.push(
            "invoices",
            format!(
                "has {} invoices; at most {MAX_INVOICES_PER_RECORD} are allowed in one record",
                invoices.len()
            ),
        );
    }
    let mut numbers = HashSet::new();
    for (i, inv) in invoices.iter().enumerate() {
        let path = format!("invoices[{i}]");
        if !numbers.insert(inv.number.as_str()) {
            v.push(
                format!("{path}.number"),
                format!(
                    "invoice number '{}' appears twice in the record",
                    inv.number
                ),
            );
        }
        v.extend_prefixed(&path, validate_invoice(inv, currency));
    }
}

fn validate_contact(c: &Contact) -> Violations {
    let mut v = Violations::new();
    v.required_line("display_name", &c.display_name, MAX_NAME_CHARS);
    v.optional_line("role", &c.role, MAX_ROLE_CHARS);
    v.optional_line("phone", &c.phone, MAX_PHONE_CHARS);
    v.optional_line("email", &c.email, MAX_EMAIL_CHARS);
    if !c.email.is_empty() && !looks_like_email(&c.email) {
        v.push("email", "is not an email address");
    }
    if !c.phone.is_empty() && !looks_like_phone(&c.phone) {
        v.push(
            "phone",
            "may hold only digits, spaces and + ( ) - . and needs at least 5 digits",
        );
    }
    v
}

fn validate_invoice(inv: &InvoiceData, currency: Currency) -> Violations {
    let mut v = Violations::new();
    v.identifier("number", &inv.number, MAX_REF_CHARS);
    if inv.due_date < inv.issue_date {
        v.push("due_date", "is before the issue date");
    }
    check_amount(&mut v, "amount", inv.amount, currency);
    if inv.disputed {
        v.required_text("dispute_reason", &inv.dispute_reason, MAX_REASON_CHARS);
    } else if !inv.dispute_reason.is_empty() {
        v.push("dispute_reason", "is only allowed on a disputed invoice");
    }
    if inv.adjustments.len() > MAX_ADJUSTMENTS {
        v.push(
            "adjustments",
            format!("at most {MAX_ADJUSTMENTS} adjustments are allowed per invoice"),
        );
    }
    let mut refs = HashSet::new();
    for (i, adj) in inv.adjustments.iter().enumerate() {
        let path = format!("adjustments[{i}]");
        v.identifier(&format!("{path}.reference"), &adj.reference, MAX_REF_CHARS);
        if !refs.insert(adj.reference.as_str()) {
            v.push(
                format!("{path}.reference"),
                format!("reference '{}' appears twice on the invoice", adj.reference),
            );
        }
        v.optional_text(&format!("{path}.reason"), &adj.reason, MAX_REASON_CHARS);
        check_amount(&mut v, &format!("{path}.amount"), adj.amount, currency);
        if adj.date < inv.issue_date {
            v.push(format!("{path}.date"), "is before the invoice's issue date");
        }
    }
    // A credit note is applied to its own invoice only: crediting more than the invoice asks for
    // would leave the invoice owing a negative amount. The CRM should spread it over other invoices.
    // Only meaningful once every amount is itself valid (positive, in the account's currency).
    let amounts_valid = [inv.amount]
        .iter()
        .chain(inv.adjustments.iter().map(|a| &a.amount))
        .all(|m| m.currency() == currency && m.is_positive());
    if amounts_valid && inv.billed() < Decimal::ZERO {
        v.push(
            "adjustments",
            format!(
                "credit notes exceed the invoice: they leave {} owing; a credit note may reduce its \
                 invoice to zero at most",
                inv.amount.with_amount(inv.billed())
            ),
        );
    }
    v
}

/// Largest amount accepted anywhere, in minor units (10^15: ten trillion pounds). Sums of many such
/// amounts still fit in the i64 minor units storage uses.
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000_000;

/// A positive amount in the account's currency, no larger than `MAX_AMOUNT_MINOR`.
pub fn check_amount(v: &mut Violations, field: &str, amount: Money, currency: Currency) {
    if let Err(e) = amount.expect_currency(currency) {
        v.push(field, e.to_string());
    } else if !amount.is_positive() {
        v.push(field, "must be greater than zero");
    } else if amount.to_minor().is_err() || amount.to_minor().is_ok_and(|m| m > MAX_AMOUNT_MINOR) {
        v.push(
            field,
            format!("is larger than the largest amount accepted ({MAX_AMOUNT_MINOR} minor units)"),
        );
    }
}

/// An assigned ISO 3166-1 alpha-2 code ("GB", not "UK"; "ZZ" is user-assigned, not a country).
fn is_country_code(s: &str) -> bool {
    s.len() == 2 && iso_currency::Country::from_str(s).is_ok()
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn looks_like_phone(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_digit() || " +()-.".contains(c))
        && s.chars().filter(char::is_ascii_digit).count() >= 5
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbp() -> Currency {
        Currency::from_code("GBP").unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn invoice(number: &str, minor: i64) -> InvoiceData {
        InvoiceData {
            number: number.into(),
            issue_date: date("2026-01-01"),
            due_date: date("2026-01-31"),
            amount: Money::from_minor(minor, gbp()),
            adjustments: vec![],
            disputed: false,
            dispute_reason: String::new(),
        }
    }

    fn account() -> AccountData {
        AccountData {
            external_ref: "CRM-1".into(),
            legal_name: "Acme Ltd".into(),
            debtor_type: DebtorType::Company,
            country_code: "GB".into(),
            time_zone: chrono_tz::Europe::London,
            currency: gbp(),
            status: AccountStatus::Active,
            cease_calls: false,
            interest_waived: false,
            queue: DEFAULT_QUEUE.into(),
            contacts: vec![Contact {
                display_name: "Pat".into(),
                role: "AP".into(),
                phone: "+44 20 7946 0000".into(),
                email: "pat@acme.example".into(),
                preferred: true,
            }],
            invoices: vec![invoice("INV-1", 10_000)],
        }
    }

    fn fields(v: &Violations) -> Vec<&str> {
        v.iter().map(|x| x.field.as_str()).collect()
    }

    #[test]
    fn a_good_record_passes() {
        assert!(validate_account(&account()).is_empty());
    }

    #[test]
    fn names_every_bad_field() {
        let mut a = account();
        a.legal_name = String::new();
        a.country_code = "gb".into();
        a.contacts[0].email = "not-an-email".into();
        a.invoices[0].due_date = date("2025-12-01");
        a.invoices[0].amount = Money::from_minor(-5, gbp());
        a.invoices.push(invoice("INV-1", 100));
        a.invoices[1].amount = Money::from_minor(100, Currency::from_code("EUR").unwrap());
        let v = validate_account(&a);
        assert_eq!(
            fields(&v),
            [
                "legal_name",
                "country_code",
                "contacts[0].email",
                "invoices[0].due_date",
                "invoices[0].amount",
                "invoices[1].number",
                "invoices[1].amount"
            ]
        );
    }

    #[test]
    fn disputes_need_a_reason_and_only_disputes_have_one() {
        let mut a = account();
        a.invoices[0].disputed = true;
        assert_eq!(
            fields(&validate_account(&a)),
            ["invoices[0].dispute_reason"]
        );
        a.invoices[0].disputed = false;
        a.invoices[0].dispute_reason = "wrong goods".into();
        assert_eq!(
            fields(&validate_account(&a)),
            ["invoices[0].dispute_reason"]
        );
    }

    #[test]
    fn country_codes_are_assigned_iso_codes() {
        for (code, ok) in [
            ("GB", true),
            ("IE", true),
            ("UK", false),
            ("ZZ", false),
            ("gb", false),
            ("GBR", false),
            ("", false),
        ] {
            let mut a = account();
            a.country_code = code.into();
            assert_eq!(validate_account(&a).is_empty(), ok, "{code:?}");
        }
    }

    #[test]
    fn refs_and_numbers_refuse_surrounding_whitespace() {
        let mut a = account();
        a.external_ref = " CRM-1".into();
        a.invoices[0].number = "INV-1 ".into();
        assert_eq!(
            fields(&validate_account(&a)),
            ["external_ref", "invoices[0].number"]
        );
    }

    #[test]
    fn credit_notes_may_clear_an_invoice_but_not_exceed_it() {
        let credit = |minor| Adjustment {
            reference: "CN-1".into(),
            kind: AdjustmentKind::CreditNote,
            amount: Money::from_minor(minor, gbp()),
            date: date("2026-01-10"),
            reason: String::new(),
        };
        let mut a = account();
        a.invoices[0].adjustments = vec![credit(10_000)];
        assert!(validate_account(&a).is_empty(), "a full credit is fine");
        a.invoices[0].adjustments = vec![credit(10_001)];
        let v = validate_account(&a);
        assert_eq!(fields(&v), ["invoices[0].adjustments"]);
        assert!(
            v.iter().next().unwrap().description.contains("GBP -0.01"),
            "{v:?}"
        );
    }

    #[test]
    fn billed_applies_credit_notes_and_debits() {
        let mut inv = invoice("INV-1", 10_000);
        inv.adjustments = vec![
            Adjustment {
                reference: "CN-1".into(),
                kind: AdjustmentKind::CreditNote,
                amount: Money::from_minor(2_550, gbp()),
                date: date("2026-01-10"),
                reason: String::new(),
            },
            Adjustment {
                reference: "DB-1".into(),
                kind: AdjustmentKind::Debit,
                amount: Money::from_minor(1, gbp()),
                date: date("2026-01-11"),
                reason: String::new(),
            },
        ];
        assert_eq!(inv.billed().to_string(), "74.51");
    }

    #[test]
    fn contact_debug_hides_personal_details() {
        let shown = format!("{:?}", account());
        assert!(
            !shown.contains("Pat") && !shown.contains("7946") && !shown.contains("acme.example")
        );
    }

    #[test]
    fn stored_enums_round_trip() {
        for s in [AccountStatus::Active, AccountStatus::WithAgency] {
            assert_eq!(AccountStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(DebtorType::parse("plc"), None);
    }
}
