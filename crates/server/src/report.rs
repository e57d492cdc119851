//! The manager's report: read from the rollup the store keeps (`recoup_store::reports`), summed by
//! the domain's rules (`recoup_domain::report::kpis`) and written as the contract's
//! `GetKpisResponse`, one function for ReportingService.GetKpis and `recoupd report`, so the two
//! cannot disagree. The background pass that keeps the rollup and takes each day's book is here too.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};
use recoup_domain::ageing::local_today;
use recoup_domain::policy::{Policy, ReportingPolicy};
use recoup_domain::report::book::Position;
use recoup_domain::report::kpis::{ByCurrency, Grouping, Kpis, group, periods, places};
use recoup_domain::{Currency, Money};
use recoup_proto::v1 as pb;
use recoup_store::{Store, StoreError};
use rust_decimal::Decimal;

use crate::clock::SharedClock;
use crate::convert::{date_out, money_out, time_out};

/// The longest period a report covers, in days.
pub const MAX_DAYS: u64 = 3660;

/// Events a report folds before answering; beyond it the rollup is still counting a history and
/// the report says so rather than hold the caller.
pub const MAX_LAG: i64 = 50_000;

/// What a report is asked for.
#[derive(Debug, Clone)]
pub struct Ask {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub grouping: Grouping,
    /// The queues the caller may see; `None`: every queue (and the agents' hours).
    pub queues: Option<Vec<String>>,
}

pub fn grouping_in(g: pb::KpiGrouping) -> Grouping {
    match g {
        pb::KpiGrouping::Unspecified | pb::KpiGrouping::None => Grouping::None,
        pb::KpiGrouping::Agent => Grouping::Agent,
        pb::KpiGrouping::Queue => Grouping::Queue,
        pb::KpiGrouping::Currency => Grouping::Currency,
        pb::KpiGrouping::Day => Grouping::Day,
        pb::KpiGrouping::Week => Grouping::Week,
        pb::KpiGrouping::Month => Grouping::Month,
    }
}

fn grouping_out(g: Grouping) -> pb::KpiGrouping {
    match g {
        Grouping::None => pb::KpiGrouping::None,
        Grouping::Agent => pb::KpiGrouping::Agent,
        Grouping::Queue => pb::KpiGrouping::Queue,
        Grouping::Currency => pb::KpiGrouping::Currency,
        Grouping::Day => pb::KpiGrouping::Day,
        Grouping::Week => pb::KpiGrouping::Week,
        Grouping::Month => pb::KpiGrouping::Month,
    }
}

/// Folds the feed into the rollup, then reports on it. `Ok(Err(lag))` when the rollup is more than
/// `MAX_LAG` events behind.
pub async fn kpis(
    store: &Store,
    policy: &ReportingPolicy,
    ask: &Ask,
    now: DateTime<Utc>,
) -> Result<Result<pb::GetKpisResponse, i64>, StoreError> {
    let lag = store.report_lag(policy).await?;
    if lag > MAX_LAG {
        return Ok(Err(lag));
    }
    if lag > 0 {
        store.fold_report_all(policy).await?;
    }
    let allowed = |queue: &str| {
        ask.queues
            .as_ref()
            .is_none_or(|qs| qs.iter().any(|q| q == queue))
    };
    // One after another: run at once, 64 reports in flight made 192 statements queue for the
    // readers, and cost more CPU a report than they saved in waiting (measured: 0.022 -> 0.014 of
    // echo on SQLite).
    let facts: Vec<_> = store
        .report_facts(ask.from, ask.to)
        .await?
        .into_iter()
        .filter(|(k, _)| allowed(&k.queue))
        .collect();
    let days = if ask.queues.is_none() {
        store.report_agent_days(ask.from, ask.to).await?
    } else {
        Vec::new()
    };
    let mut books = store.books(ask.from, ask.to).await?;
    for book in books.values_mut() {
        book.retain(|(queue, _), _| allowed(queue));
    }
    let grouped = group(
        facts.iter().map(|(k, t)| (k, t)),
        &days,
        ask.grouping,
        ask.from,
        ask.to,
    );
    let spans: BTreeMap<String, (NaiveDate, NaiveDate)> = periods(ask.grouping, ask.from, ask.to)
        .into_iter()
        .map(|(s, e)| (s.to_string(), (s, e)))
        .collect();
    let groups = grouped
        .groups
        .iter()
        .map(|(key, k)| {
            let span = spans.get(key).copied();
            let book = match ask.grouping {
                Grouping::Agent => None,
                Grouping::Queue => book_at(&books, ask.to, |q, _| q == key),
                Grouping::Currency => book_at(&books, ask.to, |_, c| c == key),
                _ => book_at(&books, span.map_or(ask.to, |s| s.1), |_, _| true),
            };
            group_out(key, span, k, book)
        })
        .collect();
    let total = group_out(
        "",
        Some((ask.from, ask.to)),
        &grouped.total,
        book_at(&books, ask.to, |_, _| true),
    );
    Ok(Ok(pb::GetKpisResponse {
        time_zone: policy.time_zone.name().to_owned(),
        from_date: Some(date_out(ask.from)),
        to_date: Some(date_out(ask.to)),
        group_by: grouping_out(ask.grouping) as i32,
        total: Some(total),
        groups,
        as_of: Some(time_out(now)),
        attribution_days: policy.attribution_days as i32,
    }))
}

/// The latest book taken on or before `end` (within the period read), summed per currency over the
/// queues and currencies `keep` keeps.
fn book_at(
    books: &BTreeMap<NaiveDate, recoup_store::Book>,
    end: NaiveDate,
    keep: impl Fn(&str, &str) -> bool,
) -> Option<(NaiveDate, BTreeMap<String, Position>)> {
    let (day, book) = books.range(..=end).next_back()?;
    let mut by_currency: BTreeMap<String, Position> = BTreeMap::new();
    for ((queue, currency), p) in book {
        if keep(queue, currency) {
            by_currency.entry(currency.clone()).or_default().merge(p);
        }
    }
    Some((*day, by_currency))
}

fn money(minor: i64, code: &str) -> Option<pb::Money> {
    Currency::from_code(code)
        .ok()
        .map(|c| money_out(Money::from_minor(minor, c)))
}

fn counted(by: &ByCurrency) -> Vec<pb::CountedAmount> {
    by.iter()
        .map(|(code, t)| pb::CountedAmount {
            amount: money(t.amount_minor, code),
            count: t.count,
        })
        .collect()
}

fn rate(r: Option<Decimal>) -> String {
    r.map(|r| r.to_string()).unwrap_or_default()
}

fn group_out(
    key: &str,
    span: Option<(NaiveDate, NaiveDate)>,
    k: &Kpis,
    book: Option<(NaiveDate, BTreeMap<String, Position>)>,
) -> pb::KpiGroup {
    let judged = |state: &str| counted(k.promises_judged.get(state).unwrap_or(&ByCurrency::new()));
    pb::KpiGroup {
        key: key.to_owned(),
        period_start: span.map(|s| date_out(s.0)),
        period_end: span.map(|s| date_out(s.1)),
        collected: counted(&k.collected),
        collected_on_promise: counted(&k.collected_on_promise),
        collected_on_plan: counted(&k.collected_on_plan),
        outbound_attempts: k.outbound_attempts,
        right_party_contacts: k.right_party_contacts,
        right_party_contact_rate: rate(k.right_party_rate()),
        calls_worked: k.calls_worked,
        hours_worked: places(Decimal::from(k.seconds_worked) / Decimal::from(3600), 4).to_string(),
        calls_per_agent_hour: rate(k.calls_per_hour()),
        promises_made: counted(&k.promises_made),
        promises_kept: judged("kept"),
        promises_partly_kept: judged("partially_kept"),
        promises_broken: judged("broken"),
        promise_kept_rate: rate(k.kept_rate_by_count()),
        promise_kept_rate_by_amount: k
            .kept_rate_by_amount()
            .into_iter()
            .map(|(currency_code, r)| pb::CurrencyRate {
                currency_code,
                rate: r.to_string(),
            })
            .collect(),
        plans_created: k.plans_created,
        plans_approved: k.plans_approved,
        plans_signed: k.plans_signed,
        plans_completed: k.plans_completed,
        plans_broken: k.plans_broken,
        disputes_raised: k.disputes_raised,
        disputes_upheld: k.disputes_upheld,
        disputes_rejected: k.disputes_rejected,
        median_days_to_resolve: rate(k.median_dispute_days()),
        rule_breaches: k
            .rule_breaches
            .iter()
            .filter_map(|(rule, count)| {
                let rule = recoup_domain::floor::Rule::parse(rule)?;
                Some(pb::RuleBreachCount {
                    rule: crate::convert::call::rule_out(rule) as i32,
                    count: *count,
                })
            })
            .collect(),
        book: book.map(|(day, by)| pb::BookPosition {
            as_of: Some(date_out(day)),
            currencies: by
                .iter()
                .map(|(code, p)| pb::BookCurrency {
                    currency_code: code.clone(),
                    receivables: money(p.receivables, code),
                    current: money(p.current, code),
                    days_1_to_30: money(p.days_1_30, code),
                    days_31_to_60: money(p.days_31_60, code),
                    days_61_to_90: money(p.days_61_90, code),
                    days_over_90: money(p.over_90, code),
                    disputed: money(p.disputed, code),
                    with_agency: money(p.with_agency, code),
                    under_plan: money(p.under_plan, code),
                    sales_90_days: money(p.sales, code),
                    dso: rate(p.dso()),
                    best_possible_dso: rate(p.best_possible_dso()),
                    average_days_delinquent: rate(p.average_days_delinquent()),
                })
                .collect(),
        }),
    }
}

/// One pass of the reporting keeper: folds the feed into the rollup, and takes the book at the end
/// of the reporting day that ended last, if no one has. Returns (events folded, book taken).
pub async fn keep_once(
    store: &Store,
    policy: &ReportingPolicy,
    now: DateTime<Utc>,
) -> Result<(usize, bool), StoreError> {
    let folded = store.fold_report_all(policy).await?;
    let yesterday = local_today(policy.time_zone, now) - Days::new(1);
    let taken = store.take_book(yesterday, now).await?;
    Ok((folded, taken))
}

/// Runs `keep_once` every `every` until the task is dropped; never when `every` is zero.
pub async fn keep_every(store: Store, policy: Arc<Policy>, every: Duration, clock: SharedClock) {
    if every.is_zero() {
        return;
    }
    loop {
        tokio::time::sleep(every).await;
        match keep_once(&store, &policy.reporting, clock.now()).await {
            Ok((folded, taken)) => {
                if folded > 0 {
                    tracing::debug!(folded, "events folded into the reporting rollup");
                }
                if taken {
                    tracing::info!("the book at yesterday's end was taken for reporting");
                }
            }
            Err(e) => tracing::warn!(error = %e, "keeping the reporting rollup failed; retrying"),
        }
    }
}

/// The report as CSV for spreadsheets: a header, then one line per group, figure and currency
/// (`group,period_start,period_end,figure,currency,value`); the total's group is `total`. Amounts
/// are decimals in their currency (`1234.50`), with a `…_count` line beside each.
pub fn csv(r: &pb::GetKpisResponse) -> String {
    let mut out = String::from("group,period_start,period_end,figure,currency,value\n");
    let date = |d: &Option<pb::Date>| {
        d.as_ref()
            .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
            .unwrap_or_default()
    };
    let total = r.total.iter().map(|g| ("total", g));
    let groups = r.groups.iter().map(|g| (g.key.as_str(), g));
    for (key, g) in total.chain(groups) {
        let (start, end) = (date(&g.period_start), date(&g.period_end));
        for (figure, currency, value) in figures(g) {
            out.push_str(&format!(
                "{},{start},{end},{figure},{currency},{}\n",
                cell(key),
                cell(&value)
            ));
        }
    }
    out
}

/// One CSV cell: quoted when it holds a comma, quote or line break; text a spreadsheet would run
/// as a formula (`=`, `+`, `-`, `@` first, not a number) is prefixed with `'`.
fn cell(s: &str) -> String {
    let formula = s.starts_with(['=', '+', '-', '@']) && s.parse::<Decimal>().is_err();
    let s = if formula {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// An amount as a decimal with its currency's places.
fn decimal(m: &Option<pb::Money>) -> (String, String) {
    let Some(m) = m else {
        return (String::new(), String::new());
    };
    let text = Money::from_parts(&m.currency_code, m.units, m.nanos)
        .map(|x| places(x.amount(), x.currency().exponent()).to_string())
        .unwrap_or_default();
    (m.currency_code.clone(), text)
}

/// Every figure of a group as `(figure, currency, value)`.
fn figures(g: &pb::KpiGroup) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut counted = |name: &str, list: &[pb::CountedAmount]| {
        for c in list {
            let (currency, amount) = decimal(&c.amount);
            out.push((name.to_owned(), currency.clone(), amount));
            out.push((format!("{name}_count"), currency, c.count.to_string()));
        }
    };
    counted("collected", &g.collected);
    counted("collected_on_promise", &g.collected_on_promise);
    counted("collected_on_plan", &g.collected_on_plan);
    counted("promises_made", &g.promises_made);
    counted("promises_kept", &g.promises_kept);
    counted("promises_partly_kept", &g.promises_partly_kept);
    counted("promises_broken", &g.promises_broken);
    let plain = |name: &str, value: String| (name.to_owned(), String::new(), value);
    out.extend([
        plain("outbound_attempts", g.outbound_attempts.to_string()),
        plain("right_party_contacts", g.right_party_contacts.to_string()),
        plain(
            "right_party_contact_rate",
            g.right_party_contact_rate.clone(),
        ),
        plain("calls_worked", g.calls_worked.to_string()),
        plain("hours_worked", g.hours_worked.clone()),
        plain("calls_per_agent_hour", g.calls_per_agent_hour.clone()),
        plain("promise_kept_rate", g.promise_kept_rate.clone()),
        plain("plans_created", g.plans_created.to_string()),
        plain("plans_approved", g.plans_approved.to_string()),
        plain("plans_signed", g.plans_signed.to_string()),
        plain("plans_completed", g.plans_completed.to_string()),
        plain("plans_broken", g.plans_broken.to_string()),
        plain("disputes_raised", g.disputes_raised.to_string()),
        plain("disputes_upheld", g.disputes_upheld.to_string()),
        plain("disputes_rejected", g.disputes_rejected.to_string()),
        plain("median_days_to_resolve", g.median_days_to_resolve.clone()),
    ]);
    for r in &g.promise_kept_rate_by_amount {
        out.push((
            "promise_kept_rate_by_amount".into(),
            r.currency_code.clone(),
            r.rate.clone(),
        ));
    }
    for b in &g.rule_breaches {
        // The rule as the stored name reads: CONTACT_BLOCK_REASON_UNCLAIMED -> unclaimed.
        let rule = pb::ContactBlockReason::try_from(b.rule).map_or_else(
            |_| b.rule.to_string(),
            |r| {
                r.as_str_name()
                    .trim_start_matches("CONTACT_BLOCK_REASON_")
                    .to_ascii_lowercase()
            },
        );
        out.push((
            format!("rule_breaches.{rule}"),
            String::new(),
            b.count.to_string(),
        ));
    }
    if let Some(book) = &g.book {
        let as_of = book
            .as_of
            .as_ref()
            .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
            .unwrap_or_default();
        out.push(("book.as_of".into(), String::new(), as_of));
        for c in &book.currencies {
            for (name, m) in [
                ("receivables", &c.receivables),
                ("current", &c.current),
                ("days_1_to_30", &c.days_1_to_30),
                ("days_31_to_60", &c.days_31_to_60),
                ("days_61_to_90", &c.days_61_to_90),
                ("days_over_90", &c.days_over_90),
                ("disputed", &c.disputed),
                ("with_agency", &c.with_agency),
                ("under_plan", &c.under_plan),
                ("sales_90_days", &c.sales_90_days),
            ] {
                let (currency, amount) = decimal(m);
                out.push((format!("book.{name}"), currency, amount));
            }
            for (name, v) in [
                ("dso", &c.dso),
                ("best_possible_dso", &c.best_possible_dso),
                ("average_days_delinquent", &c.average_days_delinquent),
            ] {
                out.push((format!("book.{name}"), c.currency_code.clone(), v.clone()));
            }
        }
    }
    out
}
