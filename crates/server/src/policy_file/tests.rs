use std::path::PathBuf;

use super::*;

fn from_text(text: &str, env: &[(&str, &str)]) -> Result<Policy, PolicyError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("recoup.toml");
    std::fs::write(&path, text).expect("write policy file");
    load(
        Some(&path),
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../recoup.example.toml")
}

#[test]
fn no_file_means_the_built_in_defaults() {
    assert_eq!(load(None, []).unwrap(), Policy::default());
}

#[test]
fn the_example_file_loads_and_documents_the_defaults() {
    assert_eq!(load(Some(&example()), []).unwrap(), Policy::default());
}

#[test]
fn a_misspelt_key_is_refused_with_its_path() {
    let e = from_text("[policy.contact]\nmax_call_per_day = 2\n", &[]).unwrap_err();
    assert!(
        e.0.starts_with("policy.contact.max_call_per_day: unknown field"),
        "{e}"
    );
    let e = from_text("[policy.contacts]\n", &[]).unwrap_err();
    assert!(e.0.starts_with("policy.contacts: unknown field"), "{e}");
}

#[test]
fn an_invalid_value_is_refused_with_its_path_and_reason() {
    let e = from_text("[policy.contact.calling_hours]\nstart = \"25:00\"\n", &[]).unwrap_err();
    assert_eq!(
        e.0,
        "policy.contact.calling_hours.start: \"25:00\" is not a time of day (HH:MM, 24-hour)"
    );
    let e = from_text(
        "[policy.contact.calling_hours]\nstart = \"18:00\"\nend = \"09:00\"\ndays = [\"mon\"]\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(
        e.0,
        "policy.contact.calling_hours.end: \"09:00\" is not after start \"18:00\""
    );
    let e = from_text("[policy.contact]\nmax_calls_per_day = 0\n", &[]).unwrap_err();
    assert_eq!(
        e.0,
        "policy.contact.max_calls_per_day: 0 must be from 1 to 20"
    );
    let e = from_text(
        "[policy.contact]\nnon_working_dates = [\"2026-02-30\"]\n",
        &[],
    )
    .unwrap_err();
    assert!(
        e.0.starts_with("policy.contact.non_working_dates[0]: 2026-02-30 is not a calendar date"),
        "{e}"
    );
    let e = from_text("[policy.contact]\nmax_calls_per_day = \"two\"\n", &[]).unwrap_err();
    assert!(
        e.0.starts_with("policy.contact.max_calls_per_day: invalid type"),
        "{e}"
    );
    let e = from_text("[policy.contact\n", &[]).unwrap_err();
    assert!(e.0.contains("recoup.toml"), "{e}");
}

#[test]
fn the_file_overrides_defaults_and_the_environment_overrides_the_file() {
    let text = r#"
[policy.contact]
max_calls_per_day = 2
non_working_dates = [2026-12-25, "2026-12-26"]
rolling_limit = { max_calls = 7, days = 7 }

[policy.contact.calling_hours]
start = 08:30
end = "18:00"
days = ["mon", "tue", "wednesday", "Thu"]

[policy.contact.calling_hours.friday]
start = "08:30"
end = "16:00"

[policy.promises]
grace_days = 5
"#;
    let p = from_text(text, &[]).unwrap();
    assert_eq!(p.contact.max_calls_per_day, 2);
    assert_eq!(
        p.contact.rolling_limit,
        Some(RollingLimit {
            max_calls: 7,
            days: 7
        })
    );
    assert_eq!(p.contact.non_working_dates.len(), 2);
    let t = |s| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
    assert_eq!(
        p.contact.hours[4],
        Some(DayHours {
            start: t("08:30"),
            end: t("16:00")
        })
    );
    assert_eq!(p.contact.hours[5], None);
    assert_eq!(p.promises.grace_days, 5);
    assert_eq!(
        p.promises.broken_window_days, 90,
        "unset keys keep defaults"
    );

    let p = from_text(
        text,
        &[
            ("RECOUP_POLICY__CONTACT__MAX_CALLS_PER_DAY", "3"),
            ("RECOUP_POLICY__CONTACT__CALLING_HOURS__START", "07:00"),
            ("RECOUP_LOG", "debug"),
        ],
    )
    .unwrap();
    assert_eq!(p.contact.max_calls_per_day, 3);
    assert_eq!(p.contact.hours[0].unwrap().start, t("07:00"));

    let e = from_text(text, &[("RECOUP_POLICY__CONTACT__MAX_CALLS", "3")]).unwrap_err();
    assert!(
        e.0.starts_with("policy.contact.max_calls: unknown field")
            && e.0.ends_with("(set by RECOUP_POLICY__CONTACT__MAX_CALLS)"),
        "{e}"
    );
}

#[test]
fn the_rendered_policy_reads_back_as_the_same_policy() {
    let text = r#"
[policy.contact]
rolling_limit = { max_calls = 3, days = 5 }
non_working_dates = [2027-01-01]
[policy.contact.calling_hours]
start = "09:00"
end = "17:00"
days = ["mon", "tue", "wed"]
[policy.contact.calling_hours.saturday]
start = "10:00"
end = "12:00"
"#;
    let policy = from_text(text, &[]).unwrap();
    let rendered = render(&policy);
    assert_eq!(from_text(&rendered, &[]).unwrap(), policy, "{rendered}");
    assert_eq!(
        from_text(&render(&Policy::default()), &[]).unwrap(),
        Policy::default()
    );
}

#[test]
fn reference_rate_changes_amend_the_shipped_history() {
    let p = from_text(
        "[policy.interest]\nuk_base_rate = [{ from = 2026-02-05, percent = \"3.50\" }]\n",
        &[],
    )
    .unwrap();
    let date = |s: &str| s.parse::<NaiveDate>().unwrap();
    assert_eq!(
        p.interest
            .rates
            .uk_base_rate
            .in_force_on(date("2026-06-30")),
        Some("3.50".parse().unwrap())
    );
    assert_eq!(p.interest.rates.uk_base_rate.known_to, date("2026-02-05"));
    // The shipped history is still there, and the rendered policy lists only the amendment.
    assert_eq!(
        p.interest
            .rates
            .uk_base_rate
            .in_force_on(date("2024-12-31")),
        Some("4.75".parse().unwrap())
    );
    let rendered = render(&p);
    assert!(rendered.contains("percent = \"3.50\""), "{rendered}");
    assert_eq!(load_text(&rendered), p);

    let e = from_text(
        "[policy.interest]\necb_main_refinancing_rate = [{ from = 2026-01-01, percent = \"2,15\" }]\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(
        e.0,
        "policy.interest.ecb_main_refinancing_rate[0].percent: \"2,15\" is not a rate in percent a \
         year from -5 to 50 (e.g. \"4.75\")"
    );
    let off = from_text("", &[("RECOUP_POLICY__INTEREST__ENABLED", "false")]).unwrap();
    assert!(!off.interest.enabled);
}

fn load_text(text: &str) -> Policy {
    from_text(text, &[]).unwrap()
}

#[test]
fn plan_rules_are_checked_with_their_key_paths() {
    let e = from_text("[policy.plans]\nagent_max_discount_percent = \"30\"\n", &[]).unwrap_err();
    assert_eq!(
        e.0,
        "policy.plans.supervisor_max_discount_percent: \"25\" is below agent_max_discount_percent (\"30\")"
    );
    let e = from_text("[policy.plans.instalment_floor]\nGBX = \"50\"\n", &[]).unwrap_err();
    assert_eq!(
        e.0,
        "policy.plans.instalment_floor.GBX: GBX is not an ISO 4217 currency code"
    );
    let e = from_text("[policy.plans.instalment_floor]\nJPY = \"50.5\"\n", &[]).unwrap_err();
    assert_eq!(
        e.0,
        "policy.plans.instalment_floor.JPY: \"50.5\" is not an amount of JPY (at least 0, at most 0 decimals)"
    );
    let e = from_text("[policy.plans]\nfrequencies = [\"daily\"]\n", &[]).unwrap_err();
    assert_eq!(
        e.0,
        "policy.plans.frequencies[0]: \"daily\" is not a frequency (weekly, fortnightly, monthly)"
    );
    let p = from_text("[policy.plans]\nmax_months = 24\n", &[]).unwrap();
    assert_eq!(p.plans.max_months, 24);
    let e = from_text("[policy.plans]\nmisses_to_break = 0\n", &[]).unwrap_err();
    assert_eq!(e.0, "policy.plans.misses_to_break: 0 must be from 1 to 24");
    let e = from_text("[policy.plans]\ncreditor_name = \"  \"\n", &[]).unwrap_err();
    assert_eq!(
        e.0,
        "policy.plans.creditor_name: \"  \" must be 1 to 200 characters (the creditor as agreements \
         name it)"
    );
    let p = from_text(
        "[policy.plans]\ngrace_days = 0\ncreditor_name = \"Acme Supplies Ltd\"\n",
        &[("RECOUP_POLICY__PLANS__MISSES_TO_BREAK", "3")],
    )
    .unwrap();
    assert_eq!(
        (
            p.plans.grace_days,
            p.plans.misses_to_break,
            p.plans.creditor_name.as_str()
        ),
        (0, 3, "Acme Supplies Ltd")
    );
}

#[test]
fn the_floor_section_reads_claims_and_a_base_currency_with_rates() {
    let p = from_text(
        "[policy.floor]\nclaim_minutes = 3\nmax_claims_per_agent = 2\nbase_currency = \"GBP\"\n\
         [policy.floor.rates]\nJPY = \"0.0053\"\n",
        &[],
    )
    .unwrap();
    assert_eq!(p.floor.claim_minutes, 3);
    assert_eq!(p.floor.max_claims_per_agent, 2);
    let jpy = recoup_domain::Currency::from_code("JPY").unwrap();
    assert_eq!(p.floor.rate(jpy).unwrap().to_string(), "0.0053");
    let e = from_text("[policy.floor.rates]\nJPY = \"0.0053\"\n", &[]).unwrap_err();
    assert!(e.0.contains("policy.floor.rates"), "{e}");
    assert!(e.0.contains("base_currency"), "{e}");
    let e = from_text(
        "[policy.floor]\nbase_currency = \"GBP\"\n[policy.floor.rates]\nJPY = \"abc\"\n",
        &[],
    )
    .unwrap_err();
    assert!(
        e.0.starts_with("policy.floor.rates.JPY: \"abc\" is not a rate"),
        "{e}"
    );
    let e = from_text(
        "[policy.floor]\nclaim_minutes = 10\nmax_claim_minutes = 5\n",
        &[],
    )
    .unwrap_err();
    assert!(e.0.contains("policy.floor.max_claim_minutes"), "{e}");
}

#[test]
fn reporting_settings_are_read_and_checked_with_their_path() {
    let p = from_text(
        "[policy.reporting]\ntime_zone = \"Asia/Kolkata\"\nattribution_days = 14\n",
        &[],
    )
    .unwrap();
    assert_eq!(p.reporting.time_zone, chrono_tz::Asia::Kolkata);
    assert_eq!(p.reporting.attribution_days, 14);
    let e = from_text("[policy.reporting]\ntime_zone = \"Mars/Olympus\"\n", &[]).unwrap_err();
    assert!(
        e.0.starts_with("policy.reporting.time_zone: \"Mars/Olympus\" is not an IANA time zone"),
        "{e}"
    );
    let e = from_text("[policy.reporting]\nattribution_days = 0\n", &[]).unwrap_err();
    assert!(e.0.contains("reporting.attribution_days"), "{e}");
}
