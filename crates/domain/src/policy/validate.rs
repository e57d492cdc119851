//! What makes a policy valid, whatever it was read from: every setting within the range the rules
//! (and the stored views' fixed windows, `limits`) support, and the settings consistent with one
//! another. Each problem is named by its key path under `policy.` (as the policy file writes it)
//! with the value and why.

use rust_decimal::Decimal;

use super::limits::*;
use super::{ContactPolicy, FloorPolicy, GuidancePolicy, Policy, PromisePolicy, RequestsPolicy};
use crate::Violations;
use crate::category::CategoryPolicy;
use crate::interest::{InterestPolicy, RateHistory};
use crate::money::Currency;
use crate::plan::PlanPolicy;

/// How a percentage setting that is not one is described (the file reader says the same of text
/// that is not a number).
pub const NOT_A_PERCENTAGE: &str = "is not a percentage from 0 to 100 (e.g. \"12.5\")";

impl Policy {
    /// The policy with its settings normalised (the creditor's name trimmed, each plan frequency
    /// once), or every rule it breaks.
    pub fn validated(mut self) -> Result<Policy, Violations> {
        let problems = self.validate();
        if !problems.is_empty() {
            return Err(problems);
        }
        self.plans.creditor_name = self.plans.creditor_name.trim().to_owned();
        let mut frequencies = Vec::with_capacity(self.plans.frequencies.len());
        for f in &self.plans.frequencies {
            if !frequencies.contains(f) {
                frequencies.push(*f);
            }
        }
        self.plans.frequencies = frequencies;
        Ok(self)
    }

    /// Every rule the policy breaks; empty when it is valid.
    pub fn validate(&self) -> Violations {
        let mut v = Violations::new();
        contact(&mut v, &self.contact);
        promises(&mut v, &self.promises);
        interest(&mut v, &self.interest);
        category(&mut v, &self.category);
        plans(&mut v, &self.plans);
        guidance(&mut v, &self.guidance);
        floor(&mut v, &self.floor);
        requests(&mut v, &self.requests);
        reporting(&mut v, &self.reporting);
        v
    }
}

/// `value` within `lo..=hi`, else "`value` must be from `lo` to `hi`" at `key`.
fn within(v: &mut Violations, key: &str, value: u32, lo: u32, hi: u32) {
    if !(lo..=hi).contains(&value) {
        v.push(key, format!("{value} must be from {lo} to {hi}"));
    }
}

fn contact(v: &mut Violations, p: &ContactPolicy) {
    within(
        v,
        "contact.max_calls_per_day",
        p.max_calls_per_day,
        1,
        MAX_CALLS_PER_DAY,
    );
    if let Some(r) = &p.rolling_limit {
        within(
            v,
            "contact.rolling_limit.max_calls",
            r.max_calls,
            1,
            MAX_ROLLING_CALLS,
        );
        within(v, "contact.rolling_limit.days", r.days, 1, 366);
    }
    if p.callback_window_minutes > 24 * 60 {
        v.push(
            "contact.callback_window_minutes",
            format!("{} must be at most 1440 (a day)", p.callback_window_minutes),
        );
    }
    for (day, hours) in super::DAY_KEYS.iter().zip(&p.hours) {
        if let Some(h) = hours
            && h.start >= h.end
        {
            v.push(
                format!("contact.calling_hours.{day}.end"),
                format!(
                    "\"{}\" is not after start \"{}\"",
                    h.end.format("%H:%M"),
                    h.start.format("%H:%M")
                ),
            );
        }
    }
    if p.hours.iter().all(Option::is_none) {
        v.push(
            "contact.calling_hours.days",
            "no day has calling hours, so no account could ever be called",
        );
    }
}

fn promises(v: &mut Violations, p: &PromisePolicy) {
    within(v, "promises.grace_days", p.grace_days, 0, 60);
    within(
        v,
        "promises.broken_window_days",
        p.broken_window_days,
        1,
        3660,
    );
    within(v, "promises.max_days_ahead", p.max_days_ahead, 1, 366);
}

fn interest(v: &mut Violations, p: &InterestPolicy) {
    let rates = |v: &mut Violations, key: &str, h: &RateHistory| {
        for (from, rate) in h.changes() {
            if !(Decimal::from(MIN_RATE_PERCENT)..=Decimal::from(MAX_RATE_PERCENT)).contains(&rate)
            {
                v.push(
                    format!("interest.{key}"),
                    format!(
                        "{rate}% from {from} is not a rate in percent a year from \
                         {MIN_RATE_PERCENT} to {MAX_RATE_PERCENT}"
                    ),
                );
            }
        }
    };
    rates(v, "uk_base_rate", &p.rates.uk_base_rate);
    rates(
        v,
        "ecb_main_refinancing_rate",
        &p.rates.ecb_main_refinancing_rate,
    );
}

fn category(v: &mut Violations, p: &CategoryPolicy) {
    within(
        v,
        "category.avoider_unanswered_calls",
        p.avoider_unanswered_calls,
        1,
        MAX_UNANSWERED_CALLS,
    );
    within(
        v,
        "category.avoider_broken_promises",
        p.avoider_broken_promises,
        1,
        MAX_BROKEN_PROMISES,
    );
    within(v, "category.late_days", p.late_days, 1, 365);
    within(
        v,
        "category.history_invoices",
        p.history_invoices,
        1,
        MAX_HISTORY_INVOICES,
    );
    if !(1..=p.history_invoices).contains(&p.habitual_late_invoices) {
        v.push(
            "category.habitual_late_invoices",
            format!(
                "{} must be from 1 to history_invoices ({})",
                p.habitual_late_invoices, p.history_invoices
            ),
        );
    }
    within(
        v,
        "category.oversight_max_days_overdue",
        p.oversight_max_days_overdue,
        1,
        365,
    );
}

fn plans(v: &mut Violations, p: &PlanPolicy) {
    for (key, value, lo, hi) in [
        ("max_months", p.max_months, 1, 120),
        ("max_first_payment_days", p.max_first_payment_days, 0, 366),
        ("max_extension_days", p.max_extension_days, 0, 366),
        (
            "settlement_min_days_overdue",
            p.settlement_min_days_overdue,
            0,
            3660,
        ),
        ("grace_days", p.grace_days, 0, 60),
        ("misses_to_break", p.misses_to_break, 1, 24),
        ("courtesy_days", p.courtesy_days, 0, 31),
        ("after_broken_max_months", p.after_broken_max_months, 1, 120),
    ] {
        within(v, &format!("plans.{key}"), value, lo, hi);
    }
    if p.frequencies.is_empty() {
        v.push("plans.frequencies", "[] must allow at least one frequency");
    }
    for (key, value) in [
        ("instalment_floor_percent", p.instalment_floor_percent),
        ("min_down_payment_percent", p.min_down_payment_percent),
        ("agent_max_discount_percent", p.agent_max_discount_percent),
        (
            "supervisor_max_discount_percent",
            p.supervisor_max_discount_percent,
        ),
        (
            "after_broken_down_payment_percent",
            p.after_broken_down_payment_percent,
        ),
    ] {
        if !(Decimal::ZERO..=Decimal::ONE_HUNDRED).contains(&value) {
            v.push(
                format!("plans.{key}"),
                format!("\"{value}\" {NOT_A_PERCENTAGE}"),
            );
        }
    }
    let (agent, supervisor) = (
        p.agent_max_discount_percent,
        p.supervisor_max_discount_percent,
    );
    if supervisor < agent {
        v.push(
            "plans.supervisor_max_discount_percent",
            format!("\"{supervisor}\" is below agent_max_discount_percent (\"{agent}\")"),
        );
    } else if supervisor >= Decimal::ONE_HUNDRED {
        v.push(
            "plans.supervisor_max_discount_percent",
            format!("\"{supervisor}\" must be below 100"),
        );
    }
    let name = p.creditor_name.trim();
    if name.is_empty() || name.chars().count() > MAX_CREDITOR_NAME_CHARS {
        v.push(
            "plans.creditor_name",
            format!(
                "\"{}\" must be 1 to {MAX_CREDITOR_NAME_CHARS} characters (the creditor as \
                 agreements name it)",
                p.creditor_name
            ),
        );
    }
    for (key, table) in [
        ("instalment_floor", &p.instalment_floor),
        ("settlement_min_balance", &p.settlement_min_balance),
    ] {
        for (code, amount) in table {
            let at = format!("plans.{key}.{code}");
            match Currency::from_code(code) {
                Err(_) => v.push(at, format!("{code} is not an ISO 4217 currency code")),
                Ok(c) if amount.is_sign_negative() || amount.scale() > c.exponent() => v.push(
                    at,
                    format!(
                        "\"{amount}\" is not an amount of {code} (at least 0, at most {} \
                         decimals)",
                        c.exponent()
                    ),
                ),
                Ok(_) => {}
            }
        }
    }
}

fn guidance(v: &mut Violations, p: &GuidancePolicy) {
    for (key, value) in [
        ("final_notice_days", p.final_notice_days),
        ("firm_deadline_days", p.firm_deadline_days),
        ("recent_payment_days", p.recent_payment_days),
    ] {
        within(v, &format!("guidance.{key}"), value, 1, 90);
    }
}

fn requests(v: &mut Violations, p: &RequestsPolicy) {
    // Retries come within minutes or hours; a day is the least a client can plan around.
    within(v, "requests.keep_days", p.keep_days, 1, 3650);
}

fn reporting(v: &mut Violations, p: &super::ReportingPolicy) {
    within(v, "reporting.attribution_days", p.attribution_days, 1, 90);
}

fn floor(v: &mut Violations, p: &FloorPolicy) {
    within(v, "floor.claim_minutes", p.claim_minutes, 1, 120);
    within(v, "floor.max_claim_minutes", p.max_claim_minutes, 1, 480);
    if p.max_claim_minutes < p.claim_minutes {
        v.push(
            "floor.max_claim_minutes",
            format!("must be at least floor.claim_minutes ({})", p.claim_minutes),
        );
    }
    within(
        v,
        "floor.max_claims_per_agent",
        p.max_claims_per_agent,
        1,
        50,
    );
    within(v, "floor.max_record_age_days", p.max_record_age_days, 1, 90);
    if !p.rates.is_empty() && p.base_currency.is_none() {
        v.push(
            "floor.rates",
            "need floor.base_currency: the currency they convert into",
        );
    }
    for (code, r) in &p.rates {
        let key = format!("floor.rates.{code}");
        if let Err(e) = Currency::from_code(code) {
            v.push(&key, e.to_string());
        }
        if !r.is_sign_positive() || r.is_zero() {
            v.push(&key, "must be more than zero");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{DayHours, RollingLimit};
    use chrono::NaiveTime;

    fn fields(p: &Policy) -> Vec<String> {
        p.validate().iter().map(|x| x.field.clone()).collect()
    }

    #[test]
    fn the_defaults_are_valid() {
        assert!(Policy::default().validate().is_empty());
    }

    #[test]
    fn every_problem_is_named_by_its_key_path() {
        let mut p = Policy::default();
        p.contact.max_calls_per_day = 0;
        p.contact.rolling_limit = Some(RollingLimit {
            max_calls: MAX_ROLLING_CALLS + 1,
            days: 7,
        });
        p.contact.hours[4] = Some(DayHours {
            start: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        });
        p.category.history_invoices = 5;
        p.category.habitual_late_invoices = 6;
        p.plans.agent_max_discount_percent = Decimal::from(30);
        p.plans
            .instalment_floor
            .insert("GBX".into(), Decimal::from(5));
        p.plans
            .instalment_floor
            .insert("JPY".into(), Decimal::new(505, 1));
        p.guidance.final_notice_days = 0;
        p.requests.keep_days = 0;
        assert_eq!(
            fields(&p),
            [
                "contact.max_calls_per_day",
                "contact.rolling_limit.max_calls",
                "contact.calling_hours.friday.end",
                "category.habitual_late_invoices",
                "plans.supervisor_max_discount_percent",
                "plans.instalment_floor.GBX",
                "plans.instalment_floor.JPY",
                "guidance.final_notice_days",
                "requests.keep_days",
            ]
        );
        let v = p.validate();
        let described: Vec<&str> = v.iter().map(|x| x.description.as_str()).collect();
        assert_eq!(described[0], "0 must be from 1 to 20");
        assert_eq!(described[2], "\"09:00\" is not after start \"18:00\"");
        assert_eq!(
            described[6],
            "\"50.5\" is not an amount of JPY (at least 0, at most 0 decimals)"
        );
    }

    #[test]
    fn no_calling_day_at_all_is_refused() {
        let mut p = Policy::default();
        p.contact.hours = [None; 7];
        assert_eq!(fields(&p), ["contact.calling_hours.days"]);
    }

    #[test]
    fn validated_trims_the_creditor_and_keeps_each_frequency_once() {
        use crate::schedule::Frequency;
        let mut p = Policy::default();
        p.plans.creditor_name = "  Acme Supplies Ltd ".into();
        p.plans.frequencies = vec![Frequency::Monthly, Frequency::Monthly, Frequency::Weekly];
        let p = p.validated().unwrap();
        assert_eq!(p.plans.creditor_name, "Acme Supplies Ltd");
        assert_eq!(p.plans.frequencies, [Frequency::Monthly, Frequency::Weekly]);
        let mut blank = Policy::default();
        blank.plans.creditor_name = "  ".into();
        let v = blank.validated().unwrap_err();
        assert_eq!(v.iter().next().unwrap().field, "plans.creditor_name");
    }
}
