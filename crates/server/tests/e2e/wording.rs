//! Money, law and words as a debtor or a court reads them: the 2026 reference rates and provisional
//! interest, deadlines and next steps that agree between calls and letters, broken plans named,
//! offers within what the customer can afford, crossed payments only where we chased, disputed
//! invoices never demanded, and figures in each locale's format.

use chrono::{Days, NaiveDate};
use recoup_domain::text::{British, Formats};
use recoup_proto::v1 as pb;
use recoup_proto::v1::guidance_service_client::GuidanceServiceClient;
use recoup_proto::v1::plan_service_client::PlanServiceClient;
use recoup_server::auth::Role;
use recoup_store::testkit::TestDb;

use crate::{TestServer, account, date, get_full, import, invoice, money, text, words};

async fn demo(db: TestDb) -> TestServer {
    let server = TestServer::start(db).await;
    recoup_server::demo::load(&server.store, crate::now())
        .await
        .unwrap();
    server
}

async fn guidance(server: &TestServer, name: &str, locale: &str) -> pb::CallGuidance {
    let g = GuidanceServiceClient::new(server.as_role(Role::Agent))
        .get_call_guidance(pb::GetCallGuidanceRequest {
            account: name.into(),
            locale: locale.into(),
        })
        .await
        .unwrap()
        .into_inner();
    // The checker reads British English figures; other locales are checked for their own below.
    if locale.is_empty() {
        words::check(name, &g.rendered_text);
    }
    g
}

async fn letter(server: &TestServer, name: &str, kind: pb::LetterKind, id: &str) -> pb::Letter {
    let l = GuidanceServiceClient::new(server.as_role(Role::Agent))
        .render_letter(pb::RenderLetterRequest {
            request_id: id.into(),
            parent: name.into(),
            kind: kind as i32,
            locale: String::new(),
            plan: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    words::check(&format!("{name} {kind:?}"), &l.body_text);
    l
}

/// The debtor's date today.
async fn today_of(server: &TestServer, name: &str) -> NaiveDate {
    let a = get_full(server, name).await;
    let tz: chrono_tz::Tz = a.time_zone.parse().unwrap();
    crate::now().with_timezone(&tz).date_naive()
}

/// A firm call and a second reminder ask for payment by the same date (firm_deadline_days on),
/// then name a final notice the day after; a final notice call and letter give final_notice_days
/// and the agency referral the day after.
#[tokio::test]
async fn calls_and_letters_give_the_same_deadline_and_next_step() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = demo(db).await;
        // (account, tone, letter, days to pay, the next step's words)
        let cases = [
            (
                "accounts/5",
                pb::Tone::Firm,
                pb::LetterKind::SecondReminder,
                7,
                "a final notice",
            ),
            (
                "accounts/7",
                pb::Tone::FinalNotice,
                pb::LetterKind::FinalNotice,
                14,
                "referral to a collection agency",
            ),
        ];
        for (k, (name, tone, kind, days, step)) in cases.into_iter().enumerate() {
            let today = today_of(&server, name).await;
            let by = British.date(today + Days::new(days));
            let then = British.date(today + Days::new(days + 1));
            let g = guidance(&server, name, "").await;
            assert_eq!(g.tone(), tone, "{backend} {name}: {:?}", g.tone_reasons);
            let points = g.talking_points.join("\n");
            assert!(points.contains(&format!("by {by}")), "{name}: {points}");
            assert!(
                points.contains(&format!("{step} follows on {then}")),
                "{name}: {points}"
            );
            assert!(g.closing.contains(&then), "{name}: {}", g.closing);
            let l = letter(&server, name, kind, &format!("deadline-{k}")).await;
            assert!(l.body_text.contains(&format!("by {by}")), "{}", l.body_text);
            assert!(
                l.body_text
                    .contains(&format!("{step} will follow on {then}")),
                "{}",
                l.body_text
            );
        }
        server.stop().await;
    }
}

/// DEMO-022 broke a signed plan: guidance names it (agreed when, what, missed, arrears), the tone
/// is firm (a first broken plan, no final notice yet), and a new plan needs a down payment and may
/// run six months at most: every option says so and validates.
#[tokio::test]
async fn a_broken_plan_is_named_and_a_new_one_is_stricter() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = demo(db).await;
        let g = guidance(&server, "accounts/22", "").await;
        assert_eq!(g.tone(), pb::Tone::Firm, "{backend}: {:?}", g.tone_reasons);
        let before = g.before_you_dial.join("\n");
        assert!(
            before.contains("The payment plan agreed on")
                && before.contains("3 monthly payments of GBP 1,600.00")
                && before.contains("2 instalments missed")
                && before.contains("GBP 3,200.00 in arrears"),
            "{before}"
        );
        assert!(!g.opening.contains("earlier reminders"), "{}", g.opening);
        assert!(g.opening.contains("was not kept"), "{}", g.opening);
        let negotiation = g.negotiation.unwrap();
        assert_eq!(negotiation.max_plan_months, 6);
        assert_eq!(
            text(&negotiation.required_down_payment),
            "GBP 800.00",
            "25% of GBP 3,200.00"
        );
        assert!(
            negotiation
                .notes
                .iter()
                .any(|n| n.starts_with("After the broken plan")),
            "{:?}",
            negotiation.notes
        );
        let mut plans = PlanServiceClient::new(server.as_role(Role::Agent));
        for option in &negotiation.options {
            assert_ne!(option.kind(), pb::PlanKind::Instalments, "{option:?}");
            let checked = plans
                .validate_plan(pb::ValidatePlanRequest {
                    parent: "accounts/22".into(),
                    proposal: Some(option.clone()),
                })
                .await
                .unwrap()
                .into_inner();
            assert!(checked.valid, "{option:?}: {:?}", checked.violations);
        }
        let today = today_of(&server, "accounts/22").await;
        let plain = plans
            .validate_plan(pb::ValidatePlanRequest {
                parent: "accounts/22".into(),
                proposal: Some(pb::PlanProposal {
                    kind: pb::PlanKind::Instalments as i32,
                    instalment_amount: Some(money("GBP", 800, 0)),
                    frequency: pb::Frequency::Monthly as i32,
                    first_payment_date: Some(date(today + Days::new(7))),
                    ..Default::default()
                }),
            })
            .await
            .unwrap()
            .into_inner();
        let codes: Vec<&str> = plain.violations.iter().map(|v| v.code.as_str()).collect();
        assert_eq!(codes, ["DOWN_PAYMENT_REQUIRED"], "{backend}");
        server.stop().await;
    }
}

/// A lump sum is judged against what the customer says it can pay by its date; counter-proposals
/// never ask more, and when nothing within policy fits, the nearest plan says which rules it breaks.
#[tokio::test]
async fn offers_stay_within_what_the_customer_can_afford() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start(db).await;
        let today = crate::now()
            .with_timezone(&chrono_tz::Europe::London)
            .date_naive();
        import(
            &mut server.accounts(),
            "",
            vec![account(
                "AFFORD-1",
                vec![invoice(
                    "A-1",
                    today - Days::new(120),
                    money("GBP", 6_000, 0),
                )],
            )],
        )
        .await
        .unwrap();
        let mut plans = PlanServiceClient::new(server.as_role(Role::Agent));
        let validate = |affordable: i64| pb::ValidatePlanRequest {
            parent: "accounts/1".into(),
            proposal: Some(pb::PlanProposal {
                kind: pb::PlanKind::PayInFull as i32,
                pay_by_date: Some(date(today + Days::new(10))),
                affordable_monthly: Some(money("GBP", affordable, 0)),
                ..Default::default()
            }),
        };
        let r = plans
            .validate_plan(validate(800))
            .await
            .unwrap()
            .into_inner();
        assert!(!r.valid, "{backend}");
        let v = &r.violations[0];
        assert_eq!(
            (v.code.as_str(), v.limit.as_str(), v.value.as_str()),
            ("EXCEEDS_AFFORDABLE", "GBP 800.00", "GBP 6,000.00")
        );
        assert!(!r.counters.is_empty() && r.nearest_affordable.is_none());
        for c in &r.counters {
            let p = c.proposal.as_ref().unwrap();
            assert_ne!(p.kind(), pb::PlanKind::Settlement, "no lump sum: {c:?}");
            assert!(
                p.instalment_amount.as_ref().unwrap().units <= 800,
                "within GBP 800.00 a month: {c:?}"
            );
        }
        // GBP 50 a month is below the floor (GBP 300.00): nothing within policy fits.
        let r = plans
            .validate_plan(validate(50))
            .await
            .unwrap()
            .into_inner();
        assert!(r.counters.is_empty(), "{:?}", r.counters);
        let nearest = r.nearest_affordable.expect("the nearest plan");
        assert!(
            nearest
                .description
                .starts_with("no plan within policy fits what the customer says it can afford"),
            "{}",
            nearest.description
        );
        server.stop().await;
    }
}

/// "A payment crossed with our chasing" only where we chased before it (DEMO-011: a reminder left
/// three days before); DEMO-012 paid without being chased: nothing owed, no call, no crossing.
#[tokio::test]
async fn a_crossed_payment_only_where_we_chased() {
    let server = demo(TestDb::sqlite()).await;
    let crossed = guidance(&server, "accounts/11", "").await;
    assert_eq!(crossed.tone(), pb::Tone::Courtesy);
    assert!(crossed.rendered_text.contains("crossed"));
    let paid = guidance(&server, "accounts/12", "").await;
    assert_eq!(paid.tone(), pb::Tone::DoNotCall);
    assert_eq!(
        paid.tone_reasons,
        ["nothing is owed: the account has been paid"]
    );
    assert!(
        !paid.rendered_text.contains("crossed"),
        "{}",
        paid.rendered_text
    );
    server.stop().await;
}

/// A reminder demands only the undisputed overdue invoices; a disputed one is listed apart as
/// under query and not chased, in every demand letter (and `words::check` looks at each).
#[tokio::test]
async fn disputed_invoices_are_never_demanded() {
    let server = demo(TestDb::sqlite()).await;
    for (k, kind) in [
        pb::LetterKind::FirstReminder,
        pb::LetterKind::SecondReminder,
        pb::LetterKind::FinalNotice,
        pb::LetterKind::AgencyReferralNotice,
    ]
    .into_iter()
    .enumerate()
    {
        let l = letter(&server, "accounts/9", kind, &format!("disputed-{k}")).await;
        let (demand, apart) = l
            .body_text
            .split_once("under query")
            .unwrap_or_else(|| panic!("{kind:?}: the query named apart:\n{}", l.body_text));
        assert!(demand.contains("PD-7799"), "{kind:?}:\n{}", l.body_text);
        assert!(!demand.contains("PD-7781"), "{kind:?}:\n{}", l.body_text);
        assert!(apart.contains("PD-7781"), "{kind:?}:\n{}", l.body_text);
    }
    let statement = letter(
        &server,
        "accounts/9",
        pb::LetterKind::PreCallStatement,
        "disputed-statement",
    )
    .await;
    let row = statement
        .body_text
        .lines()
        .find(|l| l.contains("PD-7781"))
        .unwrap();
    assert!(row.ends_with("under query, not being chased"), "{row}");
    server.stop().await;
}

/// Money in the one format in every locale's way, never decimals in yen; dates in the locale's
/// words; a plan on track is a courtesy call offering no new plan, and paying it on time is not a
/// sign of trouble (ON_PLAN); a refused call names its own time.
#[tokio::test]
async fn figures_plurals_and_plans_read_right() {
    let server = TestServer::start(TestDb::sqlite()).await;
    let today = crate::now()
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive();
    let mut yen = account(
        "YEN-1",
        vec![invoice(
            "Y-1",
            today - Days::new(20),
            money("JPY", 1_000_000, 0),
        )],
    );
    yen.currency_code = "JPY".into();
    yen.country_code = "JP".into();
    yen.time_zone = "Asia/Tokyo".into();
    let mut euro = account(
        "EURO-1",
        vec![invoice(
            "E-1",
            today - Days::new(20),
            money("EUR", 1_234_567, 500_000_000),
        )],
    );
    euro.currency_code = "EUR".into();
    euro.country_code = "DE".into();
    euro.time_zone = "Europe/Berlin".into();
    let plan_account = account(
        "PLAN-OK",
        vec![invoice(
            "P-1",
            today - Days::new(40),
            money("GBP", 3_000, 0),
        )],
    );
    import(&mut server.accounts(), "", vec![yen, euro, plan_account])
        .await
        .unwrap();
    let g = guidance(&server, "accounts/1", "").await;
    assert!(
        g.rendered_text.contains("JPY 1,000,000"),
        "{}",
        g.rendered_text
    );

    let german = guidance(&server, "accounts/2", "de-DE").await;
    assert!(
        german.rendered_text.contains("1.234.567,50\u{a0}EUR"),
        "{}",
        german.rendered_text
    );
    let french = guidance(&server, "accounts/2", "fr-FR").await;
    assert!(
        french
            .rendered_text
            .contains("1\u{202f}234\u{202f}567,50\u{a0}EUR"),
        "{}",
        french.rendered_text
    );
    let month = |d: NaiveDate| {
        [
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ][chrono::Datelike::month0(&d) as usize]
    };
    let due = today - Days::new(20);
    assert!(
        french.rendered_text.contains(&format!(
            "{} {} {}",
            chrono::Datelike::day(&due),
            month(due),
            chrono::Datelike::year(&due)
        )),
        "{}",
        french.rendered_text
    );

    // A plan agreed, signed and its first instalment paid: a courtesy call, no new plan offered, and
    // the category says the plan is working.
    let mut plans = PlanServiceClient::new(server.as_role(Role::Agent));
    let plan = plans
        .create_plan(pb::CreatePlanRequest {
            request_id: "plan-ok".into(),
            parent: "accounts/3".into(),
            proposal: Some(pb::PlanProposal {
                kind: pb::PlanKind::Instalments as i32,
                instalment_amount: Some(money("GBP", 1_000, 0)),
                frequency: pb::Frequency::Monthly as i32,
                first_payment_date: Some(date(today)),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    plans
        .record_plan_signature(pb::RecordPlanSignatureRequest {
            request_id: "plan-ok-signed".into(),
            name: plan.name.clone(),
            sign_time: Some(prost_types::Timestamp {
                seconds: crate::now().timestamp() - 60,
                nanos: 0,
            }),
            signatory: "Jo Bloggs".into(),
        })
        .await
        .unwrap();
    server
        .accounts()
        .record_payment(pb::RecordPaymentRequest {
            request_id: "plan-ok-1".into(),
            parent: "accounts/3".into(),
            payment: Some(pb::Payment {
                amount: Some(money("GBP", 1_000, 0)),
                payment_date: Some(date(today)),
                reference: "first instalment".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let on_plan = guidance(&server, "accounts/3", "").await;
    assert_eq!(
        on_plan.tone(),
        pb::Tone::Courtesy,
        "{:?}",
        on_plan.tone_reasons
    );
    assert!(on_plan.negotiation.unwrap().options.is_empty());
    assert!(!on_plan.rendered_text.contains("Option:"));
    let category = on_plan.category.unwrap();
    assert_eq!(category.category(), pb::DebtorCategory::OnPlan);
    assert!(
        category.reasons[0].contains("on time: 1 of 3 instalments paid"),
        "{:?}",
        category.reasons
    );
    server.stop().await;
}
