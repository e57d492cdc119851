//! The demo book's call histories: what agents already tried on some accounts, so the account view
//! and the contact rules have a story to show (promises broken and kept, an avoider who never
//! answers, a hardship claim, an invoice said never to have arrived).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use recoup_domain::call::{Direction, NewCall, Outcome};
use recoup_domain::contact::local_instant;
use recoup_domain::{Currency, Money};

/// What was said on a past call.
pub(super) enum Said {
    NoAnswer,
    LeftMessage(&'static str),
    /// A promise of `minor` units, due `in_days` after the call.
    Promise {
        minor: i64,
        in_days: i64,
    },
    Hardship {
        affordable_minor: i64,
        claim: &'static str,
    },
    NotReceived(&'static str),
    /// The debtor rang a few minutes before the book was loaded and asked to be called back
    /// `in_minutes` after loading: the worklist puts it first once the time comes.
    CallbackSoon {
        in_minutes: i64,
    },
}

/// A call `ago` days back (on the working day at or before it), at 10:30 in the debtor's time.
pub(super) struct Past {
    ago: i64,
    outbound: bool,
    said: Said,
    notes: &'static str,
}

const fn out(ago: i64, said: Said, notes: &'static str) -> Past {
    Past {
        ago,
        outbound: true,
        said,
        notes,
    }
}

/// The calls already made on the account with this external ref, oldest first. Outbound calls fall
/// on distinct working days, inside the default calling hours, so they keep the contact rules.
pub(super) fn history(external_ref: &str) -> Vec<Past> {
    match external_ref {
        "DEMO-002" => vec![Past {
            ago: 3,
            outbound: false,
            said: Said::NotReceived("LPW-220"),
            notes: "rang in after the reminder: never saw the invoice",
        }],
        "DEMO-004" => vec![
            out(
                21,
                Said::Hardship {
                    affordable_minor: 200_000,
                    claim: "letter from the administrator of their largest customer",
                },
                "open about the cash-flow gap; wants to pay in stages",
            ),
            out(
                14,
                Said::Promise {
                    minor: 200_000,
                    in_days: 10,
                },
                "agreed the next stage",
            ),
        ],
        "DEMO-006" => vec![
            out(
                30,
                Said::Promise {
                    minor: 1_000_000,
                    in_days: 7,
                },
                "controller promised a first payment next week",
            ),
            out(
                16,
                Said::Promise {
                    minor: 1_000_000,
                    in_days: 5,
                },
                "payment run slipped; promised again",
            ),
            out(3, Said::NoAnswer, "rang out"),
        ],
        "DEMO-007" => vec![
            out(42, Said::LeftMessage("voicemail"), "asked for a call back"),
            out(35, Said::NoAnswer, ""),
            out(28, Said::NoAnswer, ""),
            out(21, Said::NoAnswer, ""),
            out(14, Said::NoAnswer, ""),
            out(7, Said::NoAnswer, ""),
        ],
        "DEMO-008" => vec![
            out(12, Said::NoAnswer, ""),
            out(
                9,
                Said::LeftMessage("reception"),
                "receptionist took a message",
            ),
            out(6, Said::NoAnswer, ""),
            out(3, Said::NoAnswer, ""),
        ],
        // The reminder the payment crossed.
        "DEMO-011" => vec![out(
            3,
            Said::LeftMessage("accounts office"),
            "reminder left: TVN-145 now overdue",
        )],
        "DEMO-015" => vec![Past {
            ago: 0,
            outbound: false,
            said: Said::CallbackSoon { in_minutes: 10 },
            notes: "rang while driving; asked to be called back shortly",
        }],
        _ => Vec::new(),
    }
}

/// The call as recorded, at `now`, on an account in `tz` whose debtor's date today is `today`.
pub(super) fn new_call(
    p: &Past,
    tz: Tz,
    today: NaiveDate,
    currency: Currency,
    now: DateTime<Utc>,
) -> NewCall {
    let mut day = today - Duration::days(p.ago);
    while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
        day = day.pred_opt().expect("a date in range");
    }
    let start_time = match p.said {
        Said::CallbackSoon { .. } => now - Duration::minutes(5),
        _ => local_instant(tz, day, NaiveTime::from_hms_opt(10, 30, 0).expect("a time")),
    };
    let outcome = match &p.said {
        Said::NoAnswer => Outcome::NoAnswer,
        Said::LeftMessage(with) => Outcome::LeftMessage {
            left_with: (*with).into(),
        },
        Said::Promise { minor, in_days } => Outcome::PromiseToPay {
            amount: Money::from_minor(*minor, currency),
            date: day + Duration::days(*in_days),
        },
        Said::Hardship {
            affordable_minor,
            claim,
        } => Outcome::HardshipClaimed {
            statement: "says trading is hard since a large customer failed".into(),
            claims_to_verify: vec![(*claim).into()],
            affordable_monthly: Some(Money::from_minor(*affordable_minor, currency)),
        },
        Said::NotReceived(number) => Outcome::InvoiceNotReceived {
            invoice_numbers: vec![(*number).into()],
            resend_to: String::new(),
        },
        Said::CallbackSoon { in_minutes } => Outcome::CallbackRequested {
            time: now + Duration::minutes(*in_minutes),
        },
    };
    let answered = !matches!(p.said, Said::NoAnswer | Said::LeftMessage(_));
    NewCall {
        direction: if p.outbound {
            Direction::Outbound
        } else {
            Direction::Inbound
        },
        start_time,
        duration_ms: Some(if answered { 300_000 } else { 30_000 }),
        contact_name: String::new(),
        right_party_contact: answered,
        outcome,
        notes: p.notes.into(),
        next_step: String::new(),
        override_reason: None,
        correction: None,
        claim_id: None,
        asked_not_to_call: None,
        imported: None,
    }
}
