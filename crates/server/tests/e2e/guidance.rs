//! Call guidance and letters on the demo book, as an agent reads them: each situation gets the tone
//! DOMAIN.md asks for, with what that case needs said and nothing it must not; every letter renders,
//! is kept and announced once.

use recoup_proto::v1 as pb;
use recoup_proto::v1::event_service_client::EventServiceClient;
use recoup_proto::v1::guidance_service_client::GuidanceServiceClient;
use recoup_proto::v1::plan_service_client::PlanServiceClient;
use recoup_script::conduct;
use recoup_server::auth::Role;
use recoup_store::testkit::TestDb;

use crate::{Authed, TestServer, bad_fields, words};

type Client = GuidanceServiceClient<Authed>;

async fn demo(db: TestDb) -> (TestServer, Client) {
    let server = TestServer::start(db).await;
    recoup_server::demo::load(&server.store, crate::now())
        .await
        .unwrap();
    let client = GuidanceServiceClient::new(server.as_role(Role::Agent));
    (server, client)
}

async fn guidance(client: &mut Client, n: usize) -> pb::CallGuidance {
    let g = client
        .get_call_guidance(pb::GetCallGuidanceRequest {
            account: format!("accounts/{n}"),
            locale: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    words::check(&format!("accounts/{n} guidance"), &g.rendered_text);
    words::check(&format!("accounts/{n} guidance"), &g.rendered_markdown);
    g
}

fn clean(what: &str, page: &str) {
    let found = conduct::offending(page);
    assert!(found.is_empty(), "{what}: {found:?}\n{page}");
}

#[tokio::test]
async fn each_demo_account_gets_the_tone_its_situation_calls_for() {
    use pb::Tone::*;
    let expected = [
        FriendlyReminder,  // 001 fresh oversight
        FriendlyReminder,  // 002 says the invoice never arrived
        Understanding,     // 003 part payments
        Understanding,     // 004 hardship, pays small amounts
        Firm,              // 005 habitual late payer
        FinalNotice,       // 006 two broken promises
        FinalNotice,       // 007 never answers, a message left
        FinalNotice,       // 008 avoider in Sydney
        DisputeResolution, // 009 a disputed invoice as large as the overdue one
        DoNotCall,         // 010 everything disputed
        Courtesy,          // 011 payment crossed with the reminder
        DoNotCall,         // 012 overpaid, never chased: nothing owed, no crossing to apologise for
        FriendlyReminder,  // 013 credit note, oversight
        FriendlyReminder,  // 014 not yet due
        FriendlyReminder,  // 015 sole trader, callback
        FriendlyReminder,  // 016 never contacted
        FriendlyReminder,  // 017 never contacted
        FriendlyReminder,  // 018 never contacted
        DoNotCall,         // 019 with an agency
        DoNotCall,         // 020 cease calls
        DoNotCall,         // 021 on hold
        Firm,              // 022 broke a signed plan: a first broken plan is firm, not yet final
    ];
    for db in TestDb::all().await {
        let backend = db.backend;
        let (server, mut client) = demo(db).await;
        for (k, tone) in expected.iter().enumerate() {
            let n = k + 1;
            let g = guidance(&mut client, n).await;
            assert_eq!(
                g.tone(),
                *tone,
                "{backend} DEMO-{n:03}: {:?}",
                g.tone_reasons
            );
            assert!(!g.tone_reasons.is_empty() && !g.opening.is_empty() && !g.closing.is_empty());
            assert!(g.must_not.len() >= 4, "DEMO-{n:03}");
            assert!(g.category.is_some() && g.contact_status.is_some());
            clean(&format!("DEMO-{n:03} text"), &g.rendered_text);
            clean(&format!("DEMO-{n:03} markdown"), &g.rendered_markdown);
            assert!(g.rendered_markdown.starts_with("# Call guidance: "));
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn the_guidance_says_what_each_case_needs_and_nothing_it_must_not() {
    let (server, mut client) = demo(TestDb::sqlite()).await;
    let lower = |g: &pb::CallGuidance| g.rendered_text.to_lowercase();

    // Oversight: offer to resend; no agency, no interest.
    let oversight = guidance(&mut client, 1).await;
    assert!(
        oversight
            .talking_points
            .iter()
            .any(|p| p.contains("email a copy")),
        "{:?}",
        oversight.talking_points
    );
    assert!(!lower(&oversight).contains("agency") && !lower(&oversight).contains("interest"));

    // Avoider: the agency step and its date, with the interest and compensation amounts.
    let avoider = guidance(&mut client, 7).await;
    let account = crate::get_full(&server, "accounts/7").await;
    let interest = account.statutory_interest.unwrap();
    let amount = |m: &Option<pb::Money>| {
        let m = m.as_ref().unwrap();
        recoup_domain::Money::from_parts(&m.currency_code, m.units, m.nanos)
            .unwrap()
            .to_string()
    };
    let points = avoider.talking_points.join("\n");
    assert!(points.contains("collection agency follows on "), "{points}");
    // A figure only while every invoice's rate is known; else the law's rate, in words.
    if interest.provisional {
        assert!(!points.contains(&amount(&interest.interest)), "{points}");
        assert!(points.contains("at the rate the law sets"), "{points}");
    } else {
        assert!(points.contains(&amount(&interest.interest)), "{points}");
    }
    assert!(points.contains(&amount(&interest.compensation)), "{points}");
    assert!(avoider.closing.contains("collection agency follows on "));

    // Dispute: the disputed invoice is not pressed; the undisputed one may be.
    let dispute = guidance(&mut client, 9).await;
    assert!(dispute.opening.contains("PD-7781"), "{}", dispute.opening);
    assert!(
        dispute
            .must_not
            .iter()
            .any(|m| m.contains("disputed invoices"))
    );
    assert!(!dispute.questions.iter().any(|q| q.contains("pay the full")));

    // A payment crossed: apologise and confirm.
    let crossed = guidance(&mut client, 11).await;
    assert!(crossed.opening.contains("apologise"), "{}", crossed.opening);
    assert!(crossed.rendered_text.contains("TAMAR TVN-145"));

    // Cash-flow trouble: ask what can be afforded; verify a hardship claim; options above the
    // floor, each one valid.
    let cash = guidance(&mut client, 4).await;
    assert!(
        cash.questions
            .iter()
            .any(|q| q.starts_with("What can you pay today"))
    );
    assert!(
        cash.talking_points.iter().any(|p| p.contains("shows it")),
        "{:?}",
        cash.talking_points
    );
    let negotiation = cash.negotiation.unwrap();
    assert!(!negotiation.options.is_empty());
    assert_eq!(negotiation.discount_authority_percent, "10");
    let mut plans = PlanServiceClient::new(server.as_role(Role::Agent));
    for option in negotiation.options {
        let checked = plans
            .validate_plan(pb::ValidatePlanRequest {
                parent: "accounts/4".into(),
                proposal: Some(option.clone()),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(checked.valid, "{option:?}: {:?}", checked.violations);
    }

    // Do not call: a lasting block, and nothing to press.
    let agency = guidance(&mut client, 19).await;
    assert!(agency.opening.starts_with("Do not call this account"));
    assert!(agency.questions.is_empty() && agency.objections.is_empty());
    server.stop().await;
}

async fn letter(
    client: &mut Client,
    request_id: &str,
    parent: &str,
    kind: pb::LetterKind,
    plan: &str,
) -> Result<pb::Letter, tonic::Status> {
    let l = client
        .render_letter(pb::RenderLetterRequest {
            request_id: request_id.into(),
            parent: parent.into(),
            kind: kind as i32,
            locale: String::new(),
            plan: plan.into(),
        })
        .await
        .map(|r| r.into_inner())?;
    let what = format!("{parent} {kind:?}");
    words::check(&what, &l.subject);
    words::check(&what, &l.body_text);
    words::check(&what, &l.body_markdown);
    Ok(l)
}

#[tokio::test]
async fn every_letter_renders_is_kept_and_announced_once() {
    for db in TestDb::all().await {
        let backend = db.backend;
        let (server, mut client) = demo(db).await;
        let kinds = [
            pb::LetterKind::PreCallStatement,
            pb::LetterKind::FirstReminder,
            pb::LetterKind::SecondReminder,
            pb::LetterKind::FinalNotice,
            pb::LetterKind::AgencyReferralNotice,
            pb::LetterKind::DisputeAcknowledgement,
        ];
        let mut names = Vec::new();
        for (k, kind) in kinds.iter().enumerate() {
            let parent = if *kind == pb::LetterKind::DisputeAcknowledgement {
                "accounts/9"
            } else {
                "accounts/7"
            };
            let l = letter(&mut client, &format!("letter-{k}"), parent, *kind, "")
                .await
                .unwrap();
            assert_eq!(l.kind(), *kind, "{backend}");
            assert!(!l.subject.is_empty(), "{kind:?}");
            assert!(l.body_text.contains("Dear Lee Brannigan") || parent == "accounts/9");
            assert!(l.body_markdown.starts_with("# "), "{kind:?}");
            assert!(l.body_markdown.contains("| Invoice | Due | Outstanding |"));
            clean(&format!("{kind:?}"), &l.body_text);
            clean(&format!("{kind:?} markdown"), &l.body_markdown);
            let again = letter(&mut client, &format!("letter-{k}"), parent, *kind, "")
                .await
                .unwrap();
            assert_eq!(again, l, "a retry answers with the letter kept");
            names.push(l.name);
        }
        let final_notice = letter(&mut client, "letter-3", "accounts/7", kinds[3], "")
            .await
            .unwrap();
        assert!(
            final_notice
                .body_text
                .contains("Late Payment of Commercial Debts")
        );
        assert!(
            final_notice
                .body_text
                .contains("referral to a collection agency will follow on")
        );

        // The plan agreement is the one recorded with the plan.
        let agreement = letter(
            &mut client,
            "letter-plan",
            "accounts/22",
            pb::LetterKind::PlanAgreement,
            "accounts/22/plans/1",
        )
        .await
        .unwrap();
        let plan = PlanServiceClient::new(server.as_role(Role::Agent))
            .get_plan(pb::GetPlanRequest {
                name: "accounts/22/plans/1".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            agreement.body_text.trim_end(),
            plan.agreement_text.trim_end()
        );
        names.push(agreement.name);

        // The account's history lists its letters, newest first, without their bodies.
        let history = crate::get_full(&server, "accounts/7").await.recent_letters;
        let mut on_7: Vec<String> = names[..5].to_vec();
        on_7.reverse();
        assert_eq!(
            history.iter().map(|l| l.name.clone()).collect::<Vec<_>>(),
            on_7,
            "{backend}"
        );
        assert!(
            history
                .iter()
                .all(|l| l.body_text.is_empty() && !l.subject.is_empty())
        );

        // A statement sent is seen by the next guidance.
        let g = guidance(&mut client, 7).await;
        assert!(
            g.before_you_dial
                .iter()
                .any(|b| b.starts_with("A statement went out on")),
            "{:?}",
            g.before_you_dial
        );

        let mut feed = EventServiceClient::new(server.as_role(Role::Integration))
            .watch_events(pb::WatchEventsRequest {
                types: vec![pb::EventType::LetterRendered as i32],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let mut seen = Vec::new();
        for _ in 0..names.len() {
            seen.push(feed.message().await.unwrap().unwrap().resource);
        }
        assert_eq!(seen, names, "{backend}: each letter once, in order");
        server.stop().await;
    }
}

#[tokio::test]
async fn bad_guidance_and_letter_requests_name_each_field() {
    let (server, mut client) = demo(TestDb::sqlite()).await;
    let e = client
        .get_call_guidance(pb::GetCallGuidanceRequest {
            account: "accounts/x".into(),
            locale: "xx-YY".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&e), ["account", "locale"]);
    let missing = client
        .get_call_guidance(pb::GetCallGuidanceRequest {
            account: "accounts/999".into(),
            locale: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let e = letter(
        &mut client,
        "",
        "accounts/7",
        pb::LetterKind::Unspecified,
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(bad_fields(&e), ["request_id", "kind"]);
    let e = letter(
        &mut client,
        "l-1",
        "accounts/7",
        pb::LetterKind::PlanAgreement,
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(bad_fields(&e), ["plan"]);
    let e = letter(
        &mut client,
        "l-2",
        "accounts/7",
        pb::LetterKind::PlanAgreement,
        "accounts/22/plans/1",
    )
    .await
    .unwrap_err();
    assert_eq!(bad_fields(&e), ["plan"]);
    let e = letter(
        &mut client,
        "l-3",
        "accounts/7",
        pb::LetterKind::FirstReminder,
        "accounts/7/plans/1",
    )
    .await
    .unwrap_err();
    assert_eq!(bad_fields(&e), ["plan"]);
    server.stop().await;
}

/// Under a policy that adds statutory interest to what a plan pays and sets a higher floor, every
/// option the negotiation box offers (to an agent and to a supervisor) validates for that caller
/// without approval, and the floor it shows is the one ValidatePlan holds a proposal to: the box
/// and the validator judge the same balance.
#[tokio::test]
async fn every_offered_option_validates_when_interest_is_in_the_balance() {
    use recoup_domain::plan::PlanPolicy;
    use recoup_domain::policy::Policy;
    use recoup_server::server::ServeOptions;
    use rust_decimal::Decimal;

    let policy = Policy {
        plans: PlanPolicy {
            interest_in_balance: true,
            instalment_floor_percent: Decimal::from(12),
            instalment_floor: [("GBP", 400), ("EUR", 450), ("USD", 500)]
                .into_iter()
                .map(|(c, v)| (c.to_owned(), Decimal::from(v)))
                .collect(),
            ..PlanPolicy::default()
        },
        ..Policy::default()
    };
    let options = ServeOptions {
        policy: std::sync::Arc::new(policy),
        ..ServeOptions::default()
    };
    for db in TestDb::all().await {
        let backend = db.backend;
        let server = TestServer::start_with(db, &options).await;
        recoup_server::demo::load(&server.store, crate::now())
            .await
            .unwrap();
        let (mut offered, mut with_interest) = (0, 0);
        for role in [Role::Agent, Role::Supervisor] {
            let mut client = GuidanceServiceClient::new(server.as_role(role));
            let plans = PlanServiceClient::new(server.as_role(role));
            for n in 1..=22 {
                let parent = format!("accounts/{n}");
                let g = guidance(&mut client, n).await;
                let negotiation = g.negotiation.unwrap();
                let Some(floor) = negotiation.instalment_floor.clone() else {
                    continue;
                };
                let validate = |proposal: pb::PlanProposal| {
                    let mut plans = plans.clone();
                    let parent = parent.clone();
                    async move {
                        plans
                            .validate_plan(pb::ValidatePlanRequest {
                                parent,
                                proposal: Some(proposal),
                            })
                            .await
                            .unwrap()
                            .into_inner()
                    }
                };
                for option in &negotiation.options {
                    let checked = validate(option.clone()).await;
                    assert!(
                        checked.valid && !checked.approval_required,
                        "{backend} {role} {parent}: {option:?}: {:?}",
                        checked.violations
                    );
                    offered += 1;
                }
                if negotiation.options.is_empty() {
                    continue;
                }
                // One minor unit below the box's floor is refused at exactly that floor.
                let f = recoup_domain::Money::from_parts(
                    &floor.currency_code,
                    floor.units,
                    floor.nanos,
                )
                .unwrap();
                let unit = recoup_domain::Money::from_minor(1, f.currency());
                let below = f.with_amount(f.amount() - unit.amount());
                let first = negotiation.options[0].clone();
                let checked = validate(pb::PlanProposal {
                    kind: pb::PlanKind::Instalments as i32,
                    instalment_amount: Some(recoup_server::convert::money_out(below)),
                    frequency: pb::Frequency::Monthly as i32,
                    first_payment_date: first.first_payment_date.or(first.pay_by_date),
                    ..Default::default()
                })
                .await;
                let rule = checked
                    .violations
                    .iter()
                    .find(|v| v.code == "INSTALMENT_BELOW_FLOOR")
                    .unwrap_or_else(|| panic!("{backend} {parent}: {:?}", checked.violations));
                assert_eq!(rule.limit, crate::text(&Some(floor)), "{backend} {parent}");
                // What a plan pays is the collectable balance with the compensation and the
                // interest the account view states as a claim (not a provisional figure).
                let a = crate::get_full(&server, &parent).await;
                let amount = |m: &Option<pb::Money>| {
                    let m = m.as_ref().unwrap();
                    Decimal::from(m.units) + Decimal::new(i64::from(m.nanos), 9)
                };
                if let Some(i) = a
                    .statutory_interest
                    .filter(|i| amount(&i.compensation) > Decimal::ZERO)
                {
                    let b = a.balance.unwrap();
                    let claimed: Decimal = i
                        .invoices
                        .iter()
                        .filter(|x| !x.provisional)
                        .map(|x| amount(&x.interest))
                        .sum();
                    let owed = amount(&b.outstanding) - amount(&b.disputed)
                        + amount(&i.compensation)
                        + claimed;
                    assert_eq!(amount(&checked.total), owed, "{backend} {parent}");
                    with_interest += 1;
                }
            }
        }
        assert!(offered >= 20, "{backend}: only {offered} options offered");
        assert!(
            with_interest > 0,
            "{backend}: no account with interest had options"
        );
        server.stop().await;
    }
}
