//! The evidence pack an agency or a court needs when an account is referred: every record of the
//! account as the API shows it (read through the services' own handlers, so the pack cannot
//! disagree with them), as proto3 JSON parts, each letter's text as it was sent, and one printable
//! HTML document made from the same records; with a manifest giving each part's SHA-256. Every
//! value in the document is escaped text: records hold what debtors and CRMs wrote.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use recoup_domain::Money;
use recoup_domain::policy::Policy;
use recoup_domain::text::{British, Formats};
use recoup_proto::v1 as pb;
use recoup_proto::v1::account_service_server::AccountService;
use recoup_proto::v1::call_record::Outcome;
use recoup_proto::v1::call_service_server::CallService;
use recoup_proto::v1::guidance_service_server::GuidanceService;
use recoup_proto::v1::plan_service_server::PlanService;
use recoup_script::Templates;
use recoup_store::Store;
use tonic::{Request, Status};

use crate::clock::SharedClock;
use crate::convert::json::to_json;
use crate::services::accounts::Accounts;
use crate::services::calls::Calls;
use crate::services::guidance::Guidance;
use crate::services::plans::Plans;

/// Records read per page while the pack is gathered.
const PAGE: i32 = 500;

/// Every page of a List RPC, its `$items` concatenated: `$page` asks for the page after a token.
macro_rules! every_page {
    ($items:ident, $page:expr) => {{
        let mut all = Vec::new();
        let mut token = String::new();
        loop {
            let page = ($page)(token).await?.into_inner();
            all.extend(page.$items);
            token = page.next_page_token;
            if token.is_empty() {
                break all;
            }
        }
    }};
}

/// What the pack is read with: the services whose answers it holds.
pub struct Reader {
    accounts: Accounts,
    calls: Calls,
    plans: Plans,
    guidance: Guidance,
    clock: SharedClock,
}

impl Reader {
    pub fn new(
        store: Store,
        policy: Arc<Policy>,
        templates: Arc<Templates>,
        clock: SharedClock,
    ) -> Self {
        let page = PAGE as u32;
        Self {
            accounts: Accounts::new(store.clone(), policy.clone(), page, clock.clone()),
            calls: Calls::new(store.clone(), policy.clone(), page, clock.clone()),
            plans: Plans::new(
                store.clone(),
                policy.clone(),
                templates.clone(),
                page,
                clock.clone(),
            ),
            guidance: Guidance::new(store, policy, templates, page, clock.clone()),
            clock,
        }
    }

    /// The pack of `account` (`accounts/{id}`, or the CRM's reference), or the services' own error
    /// (NOT_FOUND naming it, INVALID_ARGUMENT for a malformed name).
    pub async fn pack(&self, account: &str) -> Result<pb::EvidencePack, Status> {
        let key = if account.starts_with("accounts/") {
            pb::get_account_request::Account::Name(account.to_owned())
        } else {
            pb::get_account_request::Account::ExternalRef(account.to_owned())
        };
        let a = self
            .accounts
            .get_account(Request::new(pb::GetAccountRequest {
                account: Some(key),
                view: pb::AccountView::Full as i32,
            }))
            .await?
            .into_inner();
        let parent = a.name.clone();
        let invoices = self.accounts.every_invoice(&parent).await?;
        let payments = every_page!(payments, |page_token| self.accounts.list_payments(
            Request::new(pb::ListPaymentsRequest {
                parent: parent.clone(),
                page_size: PAGE,
                page_token,
            })
        ));
        let calls = every_page!(calls, |page_token| self.calls.list_calls(Request::new(
            pb::ListCallsRequest {
                parent: parent.clone(),
                page_size: PAGE,
                page_token,
            }
        )));
        let plans = every_page!(plans, |page_token| self.plans.list_plans(Request::new(
            pb::ListPlansRequest {
                parent: parent.clone(),
                page_size: PAGE,
                page_token,
            }
        )));
        let disputes = every_page!(disputes, |page_token| self.accounts.list_disputes(
            Request::new(pb::ListDisputesRequest {
                parent: parent.clone(),
                page_size: PAGE,
                page_token,
            })
        ));
        let letters = every_page!(letters, |page_token| self.guidance.list_letters(
            Request::new(pb::ListLettersRequest {
                parent: parent.clone(),
                page_size: PAGE,
                page_token,
            })
        ));
        let records = Records {
            account: a,
            invoices,
            payments,
            calls,
            plans,
            disputes,
            letters,
        };
        records
            .pack(self.clock.now())
            .map_err(|e| crate::status::internal(&e))
    }
}

/// Everything the pack holds, oldest first where there is an order.
pub struct Records {
    pub account: pb::Account,
    pub invoices: Vec<pb::Invoice>,
    pub payments: Vec<pb::Payment>,
    pub calls: Vec<pb::CallRecord>,
    pub plans: Vec<pb::Plan>,
    pub disputes: Vec<pb::Dispute>,
    pub letters: Vec<pb::Letter>,
}

fn part(name: String, media_type: &str, content: Vec<u8>) -> pb::EvidencePart {
    let sha256 = recoup_domain::fingerprint::sha256_hex(&content);
    pb::EvidencePart {
        name,
        media_type: media_type.to_owned(),
        content,
        sha256,
    }
}

/// `messages` of contract type `name` as one JSON array.
fn json_array<M: prost::Message>(name: &str, messages: &[M]) -> Result<Vec<u8>, String> {
    let mut out = b"[".to_vec();
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend(to_json(name, m)?);
    }
    out.push(b']');
    Ok(out)
}

impl Records {
    /// The parts (the document first), each with its digest, and the manifest.
    pub fn pack(mut self, now: DateTime<Utc>) -> Result<pb::EvidencePack, String> {
        let at = |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| (t.seconds, t.nanos));
        let on = |d: &Option<pb::Date>| d.as_ref().map(|d| (d.year, d.month, d.day));
        self.payments
            .sort_by_key(|p| (on(&p.payment_date), at(&p.create_time)));
        self.calls.sort_by_key(|c| at(&c.start_time));
        self.plans.sort_by_key(|p| at(&p.create_time));
        self.disputes.sort_by_key(|d| at(&d.raise_time));
        self.letters.sort_by_key(|l| at(&l.create_time));
        let mut parts = vec![
            part(
                "evidence.html".into(),
                "text/html; charset=utf-8",
                self.html(now).into_bytes(),
            ),
            part(
                "account.json".into(),
                "application/json",
                to_json("recoup.v1.Account", &self.account)?,
            ),
            part(
                "invoices.json".into(),
                "application/json",
                json_array("recoup.v1.Invoice", &self.invoices)?,
            ),
            part(
                "payments.json".into(),
                "application/json",
                json_array("recoup.v1.Payment", &self.payments)?,
            ),
            part(
                "calls.json".into(),
                "application/json",
                json_array("recoup.v1.CallRecord", &self.calls)?,
            ),
            part(
                "plans.json".into(),
                "application/json",
                json_array("recoup.v1.Plan", &self.plans)?,
            ),
            part(
                "disputes.json".into(),
                "application/json",
                json_array("recoup.v1.Dispute", &self.disputes)?,
            ),
        ];
        for l in &self.letters {
            let id = l.name.rsplit('/').next().unwrap_or_default();
            parts.push(part(
                format!("letters/{id}.txt"),
                "text/plain; charset=utf-8",
                format!("{}\n\n{}", l.subject, l.body_text).into_bytes(),
            ));
        }
        let manifest = serde_json::json!({
            "account": self.account.name,
            "external_ref": self.account.external_ref,
            "legal_name": self.account.legal_name,
            "create_time": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "digest": "sha256",
            "parts": parts.iter().map(|p| serde_json::json!({
                "name": p.name,
                "media_type": p.media_type,
                "bytes": p.content.len(),
                "sha256": p.sha256,
            })).collect::<Vec<_>>(),
        });
        Ok(pb::EvidencePack {
            account: self.account.name.clone(),
            create_time: Some(crate::convert::time_out(now)),
            parts,
            manifest_json: serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?,
        })
    }

    /// The printable document.
    fn html(&self, now: DateTime<Utc>) -> String {
        let a = &self.account;
        let mut h = String::new();
        let title = format!(
            "Evidence pack: {} ({})",
            esc(&a.legal_name),
            esc(&a.external_ref)
        );
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\"><title>{title}</title>\
             <style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n<p>Account {}, currency {}, \
             produced {} from the records recoup holds. Each part of this pack is listed with its \
             SHA-256 digest in the manifest beside it.</p>\n",
            esc(&a.name),
            esc(&a.currency_code),
            esc(&instant(now)),
        );

        h.push_str("<h2>Statement of account</h2>\n");
        if let Some(b) = &a.balance {
            let _ = writeln!(
                h,
                "<table><tbody><tr><th>As of</th><td>{}</td></tr><tr><th>Outstanding</th><td>{}</td></tr>\
                 <tr><th>Overdue</th><td>{}</td></tr><tr><th>Disputed</th><td>{}</td></tr>\
                 <tr><th>Unallocated credit</th><td>{}</td></tr></tbody></table>",
                day(&b.as_of_date),
                money(&b.outstanding),
                money(&b.overdue),
                money(&b.disputed),
                money(&b.unallocated_credit)
            );
        }
        h.push_str(
            "<h3>Invoices</h3>\n<table><thead><tr><th>Number</th><th>Issued</th><th>Due</th>\
             <th>Amount</th><th>Adjustments</th><th>Outstanding</th><th>Disputed</th></tr></thead><tbody>\n",
        );
        for i in &self.invoices {
            let adjustments: Vec<String> = i
                .adjustments
                .iter()
                .map(|x| {
                    format!(
                        "{} {} {} ({})",
                        esc(&x.reference),
                        day(&x.date),
                        money(&x.amount),
                        esc(&x.reason)
                    )
                })
                .collect();
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&i.number),
                day(&i.issue_date),
                day(&i.due_date),
                money(&i.amount),
                or_none(adjustments.join("<br>")),
                money(&i.outstanding),
                if i.disputed {
                    esc(&i.dispute_reason)
                } else {
                    "no".into()
                }
            );
        }
        h.push_str("</tbody></table>\n");

        h.push_str(
            "<h2>Payments</h2>\n<table><thead><tr><th>Dated</th><th>Reference</th><th>Amount</th>\
             <th>Applied to</th><th>Recorded</th></tr></thead><tbody>\n",
        );
        for p in &self.payments {
            let applied: Vec<String> = p
                .allocations
                .iter()
                .map(|x| format!("{} {}", esc(&x.invoice_number), money(&x.amount)))
                .chain(
                    p.unallocated
                        .as_ref()
                        .filter(|u| u.units != 0 || u.nanos != 0)
                        .map(|u| format!("credit {}", money(&Some(u.clone())))),
                )
                .collect();
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                day(&p.payment_date),
                esc(&p.reference),
                money(&p.amount),
                or_none(applied.join("<br>")),
                time(&p.create_time)
            );
        }
        h.push_str("</tbody></table>\n");

        h.push_str("<h2>Statutory interest and compensation claimed</h2>\n");
        match &a.statutory_interest {
            None => h.push_str("<p>None: no invoice is overdue, or interest is waived.</p>\n"),
            Some(s) => {
                let _ = write!(
                    h,
                    "<p>{} — interest {}, compensation {}, computed to {}{}. Reference rate: {}.</p>\n\
                     <table><thead><tr><th>Invoice</th><th>Rate a year</th><th>Interest</th>\
                     <th>Compensation</th><th>Periods (from – to: days × principal at rate)</th></tr></thead><tbody>\n",
                    esc(&s.jurisdiction),
                    money(&s.interest),
                    money(&s.compensation),
                    day(&s.computed_to),
                    if s.provisional {
                        " (provisional: a rate after the known history applies)"
                    } else {
                        ""
                    },
                    esc(&s.rate_source)
                );
                for i in &s.invoices {
                    let periods: Vec<String> = i
                        .periods
                        .iter()
                        .map(|p| {
                            format!(
                                "{} – {}: {} × {} at {}%",
                                day(&p.start_date),
                                day(&p.end_date),
                                p.days,
                                money(&p.principal),
                                esc(&p.annual_rate_percent)
                            )
                        })
                        .collect();
                    let _ = writeln!(
                        h,
                        "<tr><td>{}</td><td>{}%</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(&i.invoice_number),
                        esc(&i.annual_rate_percent),
                        money(&i.interest),
                        money(&i.compensation),
                        or_none(periods.join("<br>"))
                    );
                }
                h.push_str("</tbody></table>\n");
            }
        }

        h.push_str(
            "<h2>Calls</h2>\n<table><thead><tr><th>Started</th><th>Direction</th><th>By</th>\
             <th>Spoke to</th><th>Outcome</th><th>Notes</th><th>Rules broken</th></tr></thead><tbody>\n",
        );
        for c in &self.calls {
            let direction = if c.direction == pb::CallDirection::Inbound as i32 {
                "inbound"
            } else {
                "outbound"
            };
            let broke: Vec<String> = c.rule_breaches.iter().map(|b| esc(&b.detail)).collect();
            let corrects = if c.corrects.is_empty() {
                String::new()
            } else {
                format!(
                    " (corrects {}: {})",
                    esc(&c.corrects),
                    esc(&c.correction_reason)
                )
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{direction}</td><td>{}</td><td>{}{}</td><td>{}{corrects}</td><td>{}</td><td>{}</td></tr>",
                time(&c.start_time),
                esc(&c.agent),
                esc(&c.contact_name),
                if c.right_party_contact {
                    " (right party)"
                } else {
                    ""
                },
                outcome(c),
                esc(&c.notes),
                or_none(broke.join("<br>"))
            );
        }
        h.push_str("</tbody></table>\n");

        h.push_str("<h2>Payment plans</h2>\n");
        if self.plans.is_empty() {
            h.push_str("<p>None.</p>\n");
        }
        for p in &self.plans {
            let state = pb::PlanState::try_from(p.state)
                .map(|s| words(s.as_str_name(), "PLAN_STATE_"))
                .unwrap_or_default();
            let _ = write!(
                h,
                "<h3>{} — {}</h3>\n<p>Proposed by {} on {}; total {}, paid {}, arrears {}{}{}.</p>\n\
                 <table><thead><tr><th>#</th><th>Due</th><th>Amount</th><th>Paid</th></tr></thead><tbody>\n",
                esc(&p.name),
                esc(&state),
                esc(&p.proposed_by),
                time(&p.create_time),
                money(&p.total),
                money(&p.paid),
                money(&p.arrears),
                if p.signatory.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; signed by {} on {}",
                        esc(&p.signatory),
                        time(&p.sign_time)
                    )
                },
                if p.end_reason.is_empty() {
                    String::new()
                } else {
                    format!("; ended {}: {}", time(&p.end_time), esc(&p.end_reason))
                }
            );
            for i in &p.schedule {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    i.sequence,
                    day(&i.due_date),
                    money(&i.amount),
                    money(&i.paid)
                );
            }
            let _ = writeln!(h, "</tbody></table>\n<pre>{}</pre>", esc(&p.agreement_text));
        }

        h.push_str("<h2>Disputes</h2>\n");
        if self.disputes.is_empty() {
            h.push_str("<p>None.</p>\n");
        } else {
            h.push_str(
                "<table><thead><tr><th>Raised</th><th>By</th><th>Invoices</th><th>Reason</th>\
                 <th>Outcome</th><th>Resolution</th></tr></thead><tbody>\n",
            );
        }
        for d in &self.disputes {
            let state = pb::DisputeState::try_from(d.state)
                .map(|s| words(s.as_str_name(), "DISPUTE_STATE_"))
                .unwrap_or_default();
            let resolution = if d.resolved_by.is_empty() {
                "—".to_owned()
            } else {
                format!(
                    "{} by {} on {}",
                    esc(&d.resolution),
                    esc(&d.resolved_by),
                    time(&d.resolve_time)
                )
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{resolution}</td></tr>",
                time(&d.raise_time),
                esc(&d.raised_by),
                esc(&d.invoice_numbers.join(", ")),
                esc(&d.reason),
                esc(&state)
            );
        }
        if !self.disputes.is_empty() {
            h.push_str("</tbody></table>\n");
        }

        h.push_str("<h2>Letters, as sent</h2>\n");
        if self.letters.is_empty() {
            h.push_str("<p>None.</p>\n");
        }
        for l in &self.letters {
            let _ = writeln!(
                h,
                "<section class=\"letter\"><h3>{} — {}</h3><pre>{}</pre></section>",
                time(&l.create_time),
                esc(&l.subject),
                esc(&l.body_text)
            );
        }
        h.push_str("</body></html>\n");
        h
    }
}

/// Print styling: A4, tables that break between rows, each letter on a page of its own.
const STYLE: &str = "@page { size: A4; margin: 18mm; } body { font: 10pt/1.4 serif; color: #000; } \
     h1 { font-size: 16pt; } h2 { font-size: 13pt; border-bottom: 1px solid #000; margin-top: 18pt; } \
     table { border-collapse: collapse; width: 100%; margin: 6pt 0; } \
     th, td { border: 1px solid #777; padding: 2pt 4pt; text-align: left; vertical-align: top; } \
     tr { break-inside: avoid; } pre { white-space: pre-wrap; font: 9.5pt/1.35 monospace; } \
     @media print { .letter { break-before: page; } }";

/// Text as HTML text: nothing in a record becomes markup.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn or_none(s: String) -> String {
    if s.is_empty() { "—".into() } else { s }
}

fn money(m: &Option<pb::Money>) -> String {
    m.as_ref()
        .and_then(|m| Money::from_parts(&m.currency_code, m.units, m.nanos).ok())
        .map(|m| esc(&British.money(m)))
        .unwrap_or_else(|| "—".into())
}

fn day(d: &Option<pb::Date>) -> String {
    d.as_ref()
        .and_then(|d| chrono::NaiveDate::from_ymd_opt(d.year, d.month as u32, d.day as u32))
        .map(|d| British.date(d))
        .unwrap_or_else(|| "—".into())
}

fn instant(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn time(t: &Option<prost_types::Timestamp>) -> String {
    t.as_ref()
        .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos as u32))
        .map(instant)
        .unwrap_or_else(|| "—".into())
}

/// `PLAN_STATE_AWAITING_SIGNATURE` -> "awaiting signature".
fn words(name: &str, prefix: &str) -> String {
    name.trim_start_matches(prefix)
        .to_ascii_lowercase()
        .replace('_', " ")
}

/// A call's outcome in words, with its promise.
fn outcome(c: &pb::CallRecord) -> String {
    match &c.outcome {
        Some(Outcome::PromiseToPay(p)) => {
            let state = pb::PromiseState::try_from(p.state)
                .map(|s| words(s.as_str_name(), "PROMISE_STATE_"))
                .unwrap_or_default();
            format!(
                "promise to pay {} by {} ({state}; paid {})",
                money(&p.amount),
                day(&p.promise_date),
                money(&p.paid)
            )
        }
        Some(Outcome::NoAnswer(_)) => "no answer".into(),
        Some(Outcome::LeftMessage(_)) => "left a message".into(),
        Some(Outcome::WrongParty(_)) => "wrong party".into(),
        Some(Outcome::PlanAgreed(_)) => "plan agreed".into(),
        Some(Outcome::AlreadyPaid(_)) => "says already paid".into(),
        Some(Outcome::DisputeRaised(_)) => "dispute raised".into(),
        Some(Outcome::HardshipClaimed(_)) => "hardship claimed".into(),
        Some(Outcome::InvoiceNotReceived(_)) => "invoice not received".into(),
        Some(Outcome::RefusedToPay(_)) => "refused to pay".into(),
        Some(Outcome::CallbackRequested(_)) => "callback requested".into(),
        Some(Outcome::ReferredToAgency(_)) => "referred to an agency".into(),
        None => "—".into(),
    }
}
