//! The policy file as an operator uses it, and the contact status an agent reads before dialling.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Days, NaiveTime, TimeZone};
use recoup_domain::policy::{ContactPolicy, DayHours, Policy};
use recoup_proto::v1 as pb;
use recoup_server::server::ServeOptions;
use recoup_store::testkit::TestDb;

use crate::{TestServer, account, get, import, invoice, money, test_zone};

const RECOUPD: &str = env!("CARGO_BIN_EXE_recoupd");

fn example() -> String {
    format!("{}/../../recoup.example.toml", env!("CARGO_MANIFEST_DIR"))
}

/// Runs recoupd to completion (killing it if it is still running after 20 s, which fails the test).
fn recoupd(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut child = Command::new(RECOUPD)
        .args(args)
        .env_remove("RECOUP_CONFIG")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn recoupd");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().expect("kill recoupd");
            panic!("recoupd {args:?} was still running after 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test]
async fn a_typo_in_the_policy_file_stops_the_start_naming_the_key() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("recoup.toml");
    std::fs::write(&file, "[policy.contact]\nmax_call_per_day = 2\n").unwrap();
    let file = file.to_str().unwrap();
    let (ok, _, stderr) = recoupd(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db.url,
            "--config",
            file,
        ],
        &[],
    );
    assert!(!ok, "recoupd started with a misspelt key");
    assert!(
        stderr.contains("policy.contact.max_call_per_day: unknown field"),
        "{stderr}"
    );

    std::fs::write(file, "[policy.contact.calling_hours]\nstart = \"25:00\"\n").unwrap();
    let (ok, _, stderr) = recoupd(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db.url,
        ],
        &[("RECOUP_CONFIG", file)],
    );
    assert!(!ok);
    assert!(
        stderr.contains("policy.contact.calling_hours.start: \"25:00\" is not a time of day"),
        "{stderr}"
    );
    db.cleanup().await;
}

#[test]
fn check_config_validates_and_prints_the_effective_policy() {
    let (ok, stdout, stderr) = recoupd(&["check-config", &example()], &[]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("valid"), "{stdout}");
    assert!(stdout.contains("max_calls_per_day = 1"), "{stdout}");
    assert!(stdout.contains("start = \"09:00\""), "{stdout}");

    let (ok, stdout, _) = recoupd(
        &["check-config", &example()],
        &[("RECOUP_POLICY__CONTACT__MAX_CALLS_PER_DAY", "2")],
    );
    assert!(ok);
    assert!(stdout.contains("max_calls_per_day = 2"), "{stdout}");

    let (ok, _, stderr) = recoupd(
        &["check-config"],
        &[("RECOUP_POLICY__PROMISES__GRACE_DAYS", "-1")],
    );
    assert!(!ok);
    assert!(
        stderr.contains("policy.promises.grace_days")
            && stderr.contains("RECOUP_POLICY__PROMISES__GRACE_DAYS"),
        "{stderr}"
    );
}

#[tokio::test]
async fn get_account_says_whether_and_when_the_account_may_be_called() {
    let (zone, tz) = test_zone();
    let today = crate::now().with_timezone(&tz).date_naive();
    let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
    let every_day = Some(DayHours {
        start: t(8, 0),
        end: t(20, 0),
    });
    let open = Policy {
        contact: ContactPolicy {
            hours: [every_day; 7],
            ..ContactPolicy::default()
        },
        ..Policy::default()
    };
    let holiday = Policy {
        contact: ContactPolicy {
            non_working_dates: BTreeSet::from([today]),
            ..open.contact.clone()
        },
        ..Policy::default()
    };
    for (policy, may_call) in [(&open, true), (&holiday, false)] {
        let options = ServeOptions {
            policy: Arc::new(policy.clone()),
            ..ServeOptions::default()
        };
        for db in TestDb::all().await {
            let server = TestServer::start_with(db, &options).await;
            let mut client = server.accounts();
            let overdue = invoice("INV-1", today - Days::new(20), money("GBP", 500, 0));
            let mut disputed = invoice("INV-2", today - Days::new(20), money("GBP", 300, 0));
            disputed.disputed = true;
            disputed.dispute_reason = "goods damaged".into();
            let zoned = |mut a: pb::Account| {
                a.time_zone = zone.clone();
                a
            };
            let mut cease = zoned(account("CEASE", vec![overdue.clone()]));
            cease.cease_calls = true;
            let mut agency = zoned(account("AGENCY", vec![overdue.clone()]));
            agency.status = pb::AccountStatus::WithAgency as i32;
            import(
                &mut client,
                "contact-1",
                vec![
                    zoned(account("OWES", vec![overdue.clone()])),
                    zoned(account("DISPUTES", vec![disputed])),
                    zoned(account("SETTLED", vec![])),
                    cease,
                    agency,
                ],
            )
            .await
            .expect("import");

            let status = get(&mut client, "OWES")
                .await
                .contact_status
                .expect("FULL view");
            assert_eq!(status.may_call_now, may_call, "{status:?}");
            if may_call {
                assert!(status.blocks.is_empty(), "{status:?}");
            } else {
                let reasons: Vec<_> = status.blocks.iter().map(|b| b.reason()).collect();
                assert_eq!(reasons, [pb::ContactBlockReason::OutsideCallingHours]);
                let tomorrow_eight = tz
                    .from_local_datetime(&(today + Days::new(1)).and_time(t(8, 0)))
                    .unwrap();
                assert_eq!(
                    status.next_allowed_time.expect("lapses").seconds,
                    tomorrow_eight.timestamp()
                );
                assert!(status.blocks[0].description.contains("next opening"));
            }

            for (external_ref, reason) in [
                ("DISPUTES", pb::ContactBlockReason::Disputed),
                ("SETTLED", pb::ContactBlockReason::NothingOwed),
                ("CEASE", pb::ContactBlockReason::CeaseCalls),
                ("AGENCY", pb::ContactBlockReason::WithAgency),
            ] {
                let status = get(&mut client, external_ref)
                    .await
                    .contact_status
                    .expect("FULL view");
                assert!(!status.may_call_now, "{external_ref}: {status:?}");
                assert!(
                    status.blocks.iter().any(|b| b.reason() == reason),
                    "{external_ref}: {status:?}"
                );
                assert_eq!(status.next_allowed_time, None, "{external_ref}: lasting");
            }

            let basic = client
                .get_account(pb::GetAccountRequest {
                    account: Some(pb::get_account_request::Account::ExternalRef("OWES".into())),
                    view: pb::AccountView::Basic as i32,
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(basic.contact_status, None, "BASIC leaves it out");
            server.stop().await;
        }
    }
}
