//! Which tone a call should take, and why (DOMAIN.md: match the approach to the reason for not
//! paying; escalate step by step — a yellow card long before a red one). The first rule that holds
//! decides:
//!
//! 1. DO_NOT_CALL — a lasting block: with an agency, asked not to be called, on hold, everything
//!    owed disputed, or nothing owed (unless a payment just crossed: then COURTESY).
//! 2. COURTESY — nothing owed but a payment just crossed (apologise and confirm), or a payment plan
//!    on track (a reminder of the coming instalment).
//! 3. DISPUTE_RESOLUTION — disputes weigh at least as much as what is collectable and overdue: the
//!    call is about settling the dispute, not chasing.
//! 4. By category: oversight → FRIENDLY_REMINDER, cash-flow trouble → UNDERSTANDING, strategic
//!    delayer → FIRM, avoider → FINAL_NOTICE; too little to tell → FRIENDLY_REMINDER.
//! 5. The ladder: never FINAL_NOTICE without an earlier contact or reminder (FIRM instead), never
//!    FRIENDLY_REMINDER after repeated broken promises (FIRM instead).
//!
//! A block that lapses (outside hours, the day's call made, a callback later) never changes the
//! tone: the agent prepares the call the case needs, and `may_call_now` says when.

use recoup_domain::category::Category;

/// The tone a call should take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tone {
    FriendlyReminder,
    Understanding,
    Firm,
    FinalNotice,
    DisputeResolution,
    Courtesy,
    DoNotCall,
}

impl Tone {
    pub const ALL: [Tone; 7] = [
        Tone::FriendlyReminder,
        Tone::Understanding,
        Tone::Firm,
        Tone::FinalNotice,
        Tone::DisputeResolution,
        Tone::Courtesy,
        Tone::DoNotCall,
    ];

    /// The name template files use.
    pub fn key(self) -> &'static str {
        match self {
            Tone::FriendlyReminder => "friendly_reminder",
            Tone::Understanding => "understanding",
            Tone::Firm => "firm",
            Tone::FinalNotice => "final_notice",
            Tone::DisputeResolution => "dispute_resolution",
            Tone::Courtesy => "courtesy",
            Tone::DoNotCall => "do_not_call",
        }
    }

    /// In plain words.
    pub fn words(self) -> &'static str {
        match self {
            Tone::FriendlyReminder => "friendly reminder",
            Tone::Understanding => "understanding",
            Tone::Firm => "firm",
            Tone::FinalNotice => "final notice",
            Tone::DisputeResolution => "dispute resolution",
            Tone::Courtesy => "courtesy",
            Tone::DoNotCall => "do not call",
        }
    }
}

/// A block that lasts until someone changes something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lasting {
    NothingOwed,
    AllDisputed,
    WithAgency,
    CeaseCalls,
    OnHold,
}

/// What the tone is chosen from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToneFacts {
    /// The category in force (a manual one, else the derived one).
    pub category: Category,
    pub lasting: Vec<Lasting>,
    /// A payment arrived recently, or the debtor says it paid.
    pub recent_payment: bool,
    /// That payment came after we chased (a reminder letter or an outbound call before it): a
    /// reminder may have crossed it.
    pub crossed_chasing: bool,
    /// An active payment plan is on track.
    pub plan_on_track: bool,
    /// Open disputes weigh at least as much as the collectable overdue amount.
    pub dispute_is_the_matter: bool,
    /// Promises broken (or partly kept) in the promise window.
    pub broken_promises: usize,
    /// Payment plans broken in the promise window.
    pub broken_plans: usize,
    /// We reached the debtor before (a right-party call) or sent a reminder letter.
    pub reminded_before: bool,
    /// A final notice was sent: the ladder's last rung before an agency.
    pub final_notice_sent: bool,
}

/// What follows a firm or final call when no payment comes by its deadline: the next rung of the
/// escalation ladder (a yellow card before a red one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    FinalNotice,
    AgencyReferral,
}

impl Step {
    /// The step after a call in `tone`, if the ladder has one.
    pub fn after(tone: Tone, final_notice_sent: bool) -> Option<Step> {
        match tone {
            Tone::Firm if !final_notice_sent => Some(Step::FinalNotice),
            Tone::Firm | Tone::FinalNotice => Some(Step::AgencyReferral),
            _ => None,
        }
    }

    /// In plain words, as templates name it.
    pub fn words(self) -> &'static str {
        match self {
            Step::FinalNotice => "a final notice",
            Step::AgencyReferral => "referral to a collection agency",
        }
    }
}

/// The tone for a call, with the reasons in plain words.
pub fn select(f: &ToneFacts) -> (Tone, Vec<String>) {
    let mut why = Vec::new();
    // Nothing owed is a reason to call only when a payment crossed our chasing.
    let lasting: Vec<&Lasting> = f
        .lasting
        .iter()
        .filter(|l| **l != Lasting::NothingOwed || !f.crossed_chasing)
        .collect();
    if !lasting.is_empty() {
        for l in lasting {
            why.push(
                match l {
                    Lasting::NothingOwed if f.recent_payment => {
                        "nothing is owed: the account has been paid"
                    }
                    Lasting::NothingOwed => "nothing is owed",
                    Lasting::AllDisputed => {
                        "everything owed is disputed: no chasing until the dispute is resolved"
                    }
                    Lasting::WithAgency => "the account is with a collection agency",
                    Lasting::CeaseCalls => "the debtor asked not to be called (letters continue)",
                    Lasting::OnHold => "collection is on hold",
                }
                .to_owned(),
            );
        }
        return (Tone::DoNotCall, why);
    }
    if f.lasting.contains(&Lasting::NothingOwed) {
        why.push(
            "nothing is owed, and a payment crossed with our chasing: apologise and confirm".into(),
        );
        return (Tone::Courtesy, why);
    }
    if f.plan_on_track {
        why.push("a payment plan is on track: a courtesy reminder of the next instalment".into());
        return (Tone::Courtesy, why);
    }
    if f.dispute_is_the_matter {
        why.push(
            "disputed invoices weigh as much as what is overdue: settle the dispute first".into(),
        );
        return (Tone::DisputeResolution, why);
    }
    if f.broken_plans > 0 && f.final_notice_sent {
        why.push("a payment plan broke after a final notice was sent: the last call".into());
        return (Tone::FinalNotice, why);
    }
    if f.broken_plans == 1 {
        why.push(
            "the payment plan agreed was broken: firm, with a date to pay and the next step".into(),
        );
        return (Tone::Firm, why);
    }
    let mut tone = match f.category {
        Category::Oversight => {
            why.push("an oversight: assume good faith".into());
            Tone::FriendlyReminder
        }
        Category::CashFlowTrouble => {
            why.push("cash-flow trouble: find what it can pay, and when".into());
            Tone::Understanding
        }
        Category::StrategicDelayer => {
            why.push("pays late by habit or let a promise slip: be direct, with dates".into());
            Tone::Firm
        }
        Category::Avoider => {
            why.push("avoids paying or being reached: the last call before escalation".into());
            Tone::FinalNotice
        }
        Category::OnPlan => {
            why.push("paying an agreed plan: a courtesy call".into());
            Tone::Courtesy
        }
        Category::Unknown | Category::NothingOwed | Category::Disputed => {
            why.push("too little history to tell: start with a polite reminder".into());
            Tone::FriendlyReminder
        }
    };
    if tone == Tone::FinalNotice && !f.reminded_before {
        why.push(
            "no earlier reminder reached the debtor: a firm call comes before a final notice"
                .into(),
        );
        tone = Tone::Firm;
    }
    if tone == Tone::FriendlyReminder && f.broken_promises >= 2 {
        why.push(format!(
            "{} broken recently: past a friendly reminder",
            crate::text::plural(f.broken_promises, "promise", "promises")
        ));
        tone = Tone::Firm;
    }
    if f.recent_payment && tone != Tone::Understanding {
        why.push("a payment arrived recently: check it before chasing".into());
    }
    (tone, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(category: Category) -> ToneFacts {
        ToneFacts {
            category,
            lasting: Vec::new(),
            recent_payment: false,
            crossed_chasing: false,
            plan_on_track: false,
            dispute_is_the_matter: false,
            broken_promises: 0,
            broken_plans: 0,
            reminded_before: true,
            final_notice_sent: false,
        }
    }

    #[test]
    fn each_case_gets_its_tone_and_the_ladder_is_kept() {
        let cases: Vec<(&str, ToneFacts, Tone)> = vec![
            (
                "oversight",
                facts(Category::Oversight),
                Tone::FriendlyReminder,
            ),
            (
                "cash flow",
                facts(Category::CashFlowTrouble),
                Tone::Understanding,
            ),
            ("delayer", facts(Category::StrategicDelayer), Tone::Firm),
            (
                "avoider reminded",
                facts(Category::Avoider),
                Tone::FinalNotice,
            ),
            (
                "avoider never reached: firm first",
                ToneFacts {
                    reminded_before: false,
                    ..facts(Category::Avoider)
                },
                Tone::Firm,
            ),
            (
                "unknown with two broken promises: not friendly",
                ToneFacts {
                    broken_promises: 2,
                    ..facts(Category::Unknown)
                },
                Tone::Firm,
            ),
            (
                "oversight with one broken promise stays friendly",
                ToneFacts {
                    broken_promises: 1,
                    ..facts(Category::Oversight)
                },
                Tone::FriendlyReminder,
            ),
            (
                "agency",
                ToneFacts {
                    lasting: vec![Lasting::WithAgency],
                    ..facts(Category::Avoider)
                },
                Tone::DoNotCall,
            ),
            (
                "all disputed",
                ToneFacts {
                    lasting: vec![Lasting::AllDisputed],
                    ..facts(Category::Disputed)
                },
                Tone::DoNotCall,
            ),
            (
                "nothing owed",
                ToneFacts {
                    lasting: vec![Lasting::NothingOwed],
                    ..facts(Category::NothingOwed)
                },
                Tone::DoNotCall,
            ),
            (
                "nothing owed, a payment crossed our chasing",
                ToneFacts {
                    lasting: vec![Lasting::NothingOwed],
                    recent_payment: true,
                    crossed_chasing: true,
                    ..facts(Category::NothingOwed)
                },
                Tone::Courtesy,
            ),
            (
                "nothing owed, paid without being chased: no call",
                ToneFacts {
                    lasting: vec![Lasting::NothingOwed],
                    recent_payment: true,
                    ..facts(Category::NothingOwed)
                },
                Tone::DoNotCall,
            ),
            (
                "cease calls beats a crossed payment",
                ToneFacts {
                    lasting: vec![Lasting::NothingOwed, Lasting::CeaseCalls],
                    recent_payment: true,
                    crossed_chasing: true,
                    ..facts(Category::NothingOwed)
                },
                Tone::DoNotCall,
            ),
            (
                "a first broken plan: firm, though the category says avoider",
                ToneFacts {
                    broken_plans: 1,
                    ..facts(Category::Avoider)
                },
                Tone::Firm,
            ),
            (
                "a broken plan after a final notice: final notice",
                ToneFacts {
                    broken_plans: 1,
                    final_notice_sent: true,
                    ..facts(Category::Avoider)
                },
                Tone::FinalNotice,
            ),
            (
                "a second broken plan of an avoider: final notice",
                ToneFacts {
                    broken_plans: 2,
                    ..facts(Category::Avoider)
                },
                Tone::FinalNotice,
            ),
            (
                "paying a plan: courtesy",
                facts(Category::OnPlan),
                Tone::Courtesy,
            ),
            (
                "plan on track",
                ToneFacts {
                    plan_on_track: true,
                    ..facts(Category::StrategicDelayer)
                },
                Tone::Courtesy,
            ),
            (
                "dispute is the matter",
                ToneFacts {
                    dispute_is_the_matter: true,
                    ..facts(Category::Oversight)
                },
                Tone::DisputeResolution,
            ),
        ];
        for (name, f, expected) in cases {
            let (tone, why) = select(&f);
            assert_eq!(tone, expected, "{name}: {why:?}");
            assert!(!why.is_empty(), "{name}: a tone always says why");
            // A crossed payment is claimed only when our chasing came before it.
            if why.iter().any(|w| w.contains("crossed")) {
                assert!(f.crossed_chasing, "{name}: {why:?}");
            }
        }
    }

    #[test]
    fn the_ladder_after_a_firm_or_final_call() {
        assert_eq!(Step::after(Tone::Firm, false), Some(Step::FinalNotice));
        assert_eq!(Step::after(Tone::Firm, true), Some(Step::AgencyReferral));
        assert_eq!(
            Step::after(Tone::FinalNotice, false),
            Some(Step::AgencyReferral)
        );
        assert_eq!(Step::after(Tone::FriendlyReminder, false), None);
        assert_eq!(Step::after(Tone::Understanding, true), None);
    }
}
