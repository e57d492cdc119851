use super::*;

#[test]
fn the_shipped_agreement_renders_every_part_without_escaping_or_placeholders() {
    let t = Templates::new(&[]).unwrap();
    let mut a = Agreement::sample();
    a.debtor.legal_name = "Smith & Sons <Trading>".into();
    let text = t.agreement(&a).unwrap();
    for part in [
        "Smith & Sons <Trading>, account CRM-1 (the debtor)",
        "invoice INV-1, due 1 January 2028: GBP 900.00 outstanding",
        "1. 29 February 2028  GBP 300.00",
        "Total: GBP 900.00 in 3 payments, the last on 30 April 2028.",
        "within 5 days of its due date is missed",
        "If 2 payments are missed",
        "Signed for the debtor:",
    ] {
        assert!(text.contains(part), "{part:?} missing from:\n{text}");
    }
    assert!(!text.contains("{{") && !text.contains("&amp;") && !text.contains("(s)"));
}

#[test]
fn an_override_replaces_the_shipped_template_by_name() {
    let t = Templates::new(&[(
        "plan_agreement.hbs".into(),
        "Plan {{reference}} for {{debtor.legal_name}}: {{total}}".into(),
    )])
    .unwrap();
    assert_eq!(
        t.agreement(&Agreement::sample()).unwrap(),
        "Plan accounts/1/plans/1 for Sample Trading Ltd: GBP 900.00"
    );
}

#[test]
fn a_broken_or_unknown_template_is_refused_naming_the_file_and_line() {
    let unknown_variable = Templates::new(&[(
        "plan_agreement.hbs".into(),
        "Dear customer,\n{{debtor.nickname}}".into(),
    )])
    .unwrap_err()
    .to_string();
    assert!(
        unknown_variable.starts_with("plan_agreement.hbs:") && unknown_variable.contains("line 2"),
        "{unknown_variable}"
    );
    let unclosed = Templates::new(&[("plan_agreement.hbs".into(), "{{#each invoices}}".into())])
        .unwrap_err()
        .to_string();
    assert!(unclosed.starts_with("plan_agreement.hbs:"), "{unclosed}");
    let stray = Templates::new(&[("letter.hbs".into(), "hello".into())])
        .unwrap_err()
        .to_string();
    assert!(
        stray.starts_with("letter.hbs: not a template recoup uses"),
        "{stray}"
    );
}

#[test]
fn every_tone_and_letter_renders_without_banned_words_or_placeholders() {
    let t = Templates::new(&[]).unwrap();
    for tone in Tone::ALL {
        for variant in 0..4 {
            let mut c = CallContext::sample(tone);
            // With and without the optional parts (disputes, a plan, interest, hardship, payments).
            if variant % 2 == 1 {
                c.disputed_invoices.clear();
                c.plan = None;
                c.interest.clear();
                c.recent_payments.clear();
                c.statement_sent.clear();
            }
            if variant >= 2 {
                c.hardship = false;
                c.owed = false;
                c.open_promise.clear();
                c.may_call_now = false;
            }
            let g = t.guidance(DEFAULT_LOCALE, &c, tone).unwrap();
            for page in [&g.text, &g.markdown] {
                assert!(
                    conduct::offending(page).is_empty(),
                    "{tone:?}/{variant}: {:?}\n{page}",
                    conduct::offending(page)
                );
            }
            assert!(!g.opening.is_empty() && !g.closing.is_empty(), "{tone:?}");
            assert!(g.must_not.len() >= 4, "{tone:?}: {:?}", g.must_not);
        }
    }
    for kind in LetterKind::ALL {
        let l = t
            .letter(DEFAULT_LOCALE, kind, &LetterContext::sample())
            .unwrap();
        assert!(
            !l.subject.is_empty() && !l.subject.starts_with("Subject"),
            "{kind:?}"
        );
        for body in [&l.text, &l.markdown] {
            assert!(
                conduct::offending(body).is_empty(),
                "{kind:?}: {:?}\n{body}",
                conduct::offending(body)
            );
        }
        assert!(
            l.markdown.starts_with('#') || kind == LetterKind::PlanAgreement,
            "{kind:?}"
        );
    }
}

#[test]
fn the_banned_list_catches_what_it_lists() {
    assert_eq!(
        conduct::offending("Pay now or else we send the Bailiffs {{amount}}"),
        ["bailiff", "or else", "an unrendered placeholder"]
    );
    assert!(conduct::offending("Please arrange payment by 30 November.").is_empty());
}

#[test]
fn a_locale_is_a_folder_whose_missing_files_fall_back_to_british_english() {
    let t = Templates::new(&[(
        "cy-GB/letters/first_reminder.hbs".into(),
        "Subject: Nodyn atgoffa: {{overdue}}\nAnnwyl {{salutation}},".into(),
    )])
    .unwrap();
    // Its own folder, and the locales with a format of their own.
    assert_eq!(t.locales(), ["en-GB", "cy-GB", "en-US", "de-DE", "fr-FR"]);
    assert_eq!(t.unformatted_locales(), ["cy-GB"]);
    let c = LetterContext::sample();
    let welsh = t.letter("cy-GB", LetterKind::FirstReminder, &c).unwrap();
    assert_eq!(welsh.subject, "Nodyn atgoffa: GBP 1,200.00");
    assert_eq!(welsh.text, "Annwyl Alex Ledger,");
    // Not translated: the British English letter.
    let second = t.letter("cy-GB", LetterKind::SecondReminder, &c).unwrap();
    assert_eq!(second.subject, "Second reminder: GBP 1,200.00 overdue");
    assert!(matches!(
        t.letter("pt-BR", LetterKind::FirstReminder, &c),
        Err(TemplateError::NoLocale(_))
    ));
}
