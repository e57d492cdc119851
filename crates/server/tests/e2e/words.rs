//! The words debtors and agents read, checked the way a reader would: every guidance page and
//! letter the suite fetches goes through `check`.

use std::sync::LazyLock;

use regex::Regex;

/// An amount written number first ("2000.00 GBP"): not the one format.
static NUMBER_FIRST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d[\d,.]*\s?[A-Z]{3}\b").expect("a pattern"));
/// An amount in the one format: the code, then the amount.
static CODE_FIRST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b([A-Z]{3}) (-?\d(?:[\d,]*\d)?(?:\.\d+)?)").expect("a pattern"));
/// The one format's digits: grouped in thousands, then the minor digits, if any.
static GROUPED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^-?\d{1,3}(,\d{3})*(\.\d+)?$").expect("a pattern"));

/// No "(s)" plurals; money only in the one format with exactly its currency's minor digits (no
/// decimals in yen or won); no invoice named as under query ("Disputed, not to be pressed: …", a
/// letter's "under query" table) demanded anywhere else in the text.
pub fn check(what: &str, text: &str) {
    assert!(!text.contains("(s)"), "{what}: a '(s)' plural:\n{text}");
    for m in NUMBER_FIRST.find_iter(text) {
        let code = &m.as_str()[m.as_str().len() - 3..];
        assert!(
            recoup_domain::Currency::from_code(code).is_err(),
            "{what}: '{}' is not in the one money format:\n{text}",
            m.as_str()
        );
    }
    for c in CODE_FIRST.captures_iter(text) {
        let Ok(currency) = recoup_domain::Currency::from_code(&c[1]) else {
            continue;
        };
        let amount = &c[2];
        assert!(
            GROUPED.is_match(amount),
            "{what}: '{} {amount}' is not grouped in thousands:\n{text}",
            &c[1]
        );
        let decimals = amount.split_once('.').map_or(0, |(_, f)| f.len());
        assert_eq!(
            decimals as u32,
            currency.exponent(),
            "{what}: '{} {amount}' has other than the currency's minor digits:\n{text}",
            &c[1]
        );
    }
    let query = query_rows(text);
    for number in disputed(text) {
        for (k, line) in text.lines().enumerate() {
            let about_the_query = ["disput", "query", "Disput", "Query"]
                .iter()
                .any(|w| line.contains(w));
            assert!(
                !line.contains(&number) || about_the_query || query.contains(&k),
                "{what}: disputed invoice {number} demanded in '{line}':\n{text}"
            );
        }
    }
}

/// The invoice numbers a text names as under query: in guidance's "Disputed, not to be pressed"
/// line, and in the rows of a letter's table that follows "under query".
fn disputed(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.split("Disputed, not to be pressed: ").nth(1) {
            out.extend(
                rest.split(", ")
                    .filter_map(|item| item.split(" (").next())
                    .map(|n| n.trim_end_matches('.').to_owned()),
            );
        }
    }
    let lines: Vec<&str> = text.lines().collect();
    out.extend(query_rows(text).into_iter().filter_map(|k| {
        lines[k]
            .trim_start_matches('|')
            .split_whitespace()
            .next()
            .map(str::to_owned)
    }));
    out.retain(|n| !n.is_empty() && n != "Invoice" && !n.starts_with("---"));
    out
}

/// The line numbers of the table right after a sentence saying invoices are under query.
fn query_rows(text: &str) -> Vec<usize> {
    let mut rows = Vec::new();
    let mut in_table = false;
    for (k, line) in text.lines().enumerate() {
        if line.contains("under query") && line.ends_with(':') {
            in_table = true;
            continue;
        }
        if in_table {
            if line.trim().is_empty() && !rows.is_empty() {
                break;
            }
            if !line.trim().is_empty() {
                rows.push(k);
            }
        }
    }
    rows
}

#[test]
fn the_checker_catches_each_class() {
    let caught = |text: &str| std::panic::catch_unwind(|| check("sample", text)).is_err();
    assert!(caught("1 promise(s) to pay have been missed"));
    assert!(caught("everything outstanding (2000.00 GBP) is disputed"));
    assert!(caught("Balance today: GBP 2000.00 outstanding"));
    assert!(caught("JPY 333,333.500000000 overdue"));
    assert!(caught(
        "Disputed, not to be pressed: INV-2 (GBP 1,200.00).\n- Ask for payment of INV-2 today."
    ));
    assert!(caught(
        "the following invoices are now past their due date:\n\n  INV-2  1 October 2026  GBP 1.00\n\n\
         These invoices are under query and are not being chased while we look into them:\n\n  \
         INV-2  1 October 2026  GBP 1.00\n"
    ));
    assert!(!caught(
        "Balance today: GBP 2,000.00; JPY 333,334; KWD 1.250.\nDisputed, not to be pressed: INV-2 \
         (GBP 1,200.00).\nThe disputed invoice INV-2 is being looked at."
    ));
}
