//! The reference-rate tables in force (the shipped history amended by the policy file), as
//! `recoupd rates` prints them, and the warning `recoupd serve` gives when one is stale: the law
//! fixes today's rate on a day after the table is known to, so interest on debts falling overdue now
//! is provisional until an operator adds the decision.

use std::fmt::Write as _;

use chrono::NaiveDate;
use recoup_domain::interest::{ReferenceRates, Regime};

/// Each table with its changes (each marked shipped or policy file), the date it is known to, and
/// whether a debt falling overdue on `today` takes a rate it does not know.
pub fn table(rates: &ReferenceRates, today: NaiveDate) -> String {
    let shipped = ReferenceRates::shipped();
    let stale = rates.stale_on(today);
    let mut out = String::new();
    for (key, regime) in [
        ("uk_base_rate", Regime::UkLatePayment),
        ("ecb_main_refinancing_rate", Regime::EuDirective),
    ] {
        let history = rates.for_regime(regime);
        let original = shipped.for_regime(regime);
        let _ = writeln!(
            out,
            "[{key}] {} (+ 8 points: {})",
            history.name,
            regime.law()
        );
        let _ = writeln!(out, "  source:   {}", history.source);
        let _ = writeln!(
            out,
            "  known to: {} ({})",
            history.known_to, history.known_to_note
        );
        match stale.iter().find(|(r, _, _)| *r == regime) {
            Some((_, _, on)) => {
                let _ = writeln!(
                    out,
                    "  STALE:    a debt falling overdue on {today} takes the rate of {on}, after \
                     the table is known to: its interest is provisional (add the decision to \
                     policy.interest.{key})"
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "  current:  a debt falling overdue on {today} takes a rate the table knows"
                );
            }
        }
        let _ = writeln!(out, "  {:<10}  {:>7}  origin", "from", "percent");
        for (from, rate) in history.changes() {
            let origin = if original.changes().any(|(d, r)| d == from && r == rate) {
                "shipped"
            } else {
                "policy file"
            };
            let _ = writeln!(out, "  {from}  {rate:>7}  {origin}");
        }
        out.push('\n');
    }
    out
}

/// Logs a warning for each table a debt falling overdue on `today` would be provisional under;
/// returns whether any is.
pub fn warn_if_stale(rates: &ReferenceRates, today: NaiveDate) -> bool {
    let stale = rates.stale_on(today);
    for (regime, history, on) in &stale {
        tracing::warn!(
            table = %history.name,
            known_to = %history.known_to,
            rate_of = %on,
            law = regime.law(),
            "reference rates are stale: the table is known to {}, but debts falling overdue today \
             take the rate of {on}; their statutory interest is provisional (guidance and letters \
             state no figure) until the decision is added to the policy file (see `recoupd rates`)",
            history.known_to
        );
    }
    !stale.is_empty()
}
