//! Figures as each locale writes them. British English (`en-GB`, the default) is the service's own
//! format (`recoup_domain::text::British`); the other locales recoup knows take their decimal and
//! grouping separators and their long dates from CLDR through ICU4X (`icu_decimal`,
//! `icu_datetime`, data compiled in), and the place of the currency code from a small table (CLDR's
//! currency patterns are not in ICU4X's stable API). Amounts always carry exactly the currency's
//! minor digits, as the code ("EUR"), never a symbol: a B2B book holds several currencies that
//! share symbols.

use chrono::{Datelike, NaiveDate};
use icu_calendar::{Date, Gregorian};
use icu_datetime::FixedCalendarDateTimeFormatter;
use icu_datetime::fieldsets::YMD;
use icu_decimal::DecimalFormatter;
use icu_decimal::input::Decimal;
use icu_locale_core::Locale;
use recoup_domain::Money;
pub use recoup_domain::text::{British, Formats, plural};

/// The locales with a format of their own; any other falls back to en-GB's.
pub const FORMATTED: [&str; 4] = ["en-GB", "en-US", "de-DE", "fr-FR"];

/// Where the currency code goes, by language (CLDR's standard currency pattern: "¤#,##0.00" in
/// English, "#,##0.00 ¤" in German and French).
fn code_after(language: &str) -> bool {
    matches!(language, "de" | "fr")
}

/// A locale's format from CLDR data.
pub struct Cldr {
    decimal: DecimalFormatter,
    dates: FixedCalendarDateTimeFormatter<Gregorian, YMD>,
    code_after: bool,
}

impl Cldr {
    /// The format of `tag` (e.g. "de-DE"), if ICU4X has its data.
    pub fn new(tag: &str) -> Option<Cldr> {
        let locale: Locale = tag.parse().ok()?;
        let decimal = DecimalFormatter::try_new(locale.clone().into(), Default::default()).ok()?;
        let dates =
            FixedCalendarDateTimeFormatter::try_new(locale.clone().into(), YMD::long()).ok()?;
        Some(Cldr {
            decimal,
            dates,
            code_after: code_after(locale.id.language.as_str()),
        })
    }
}

impl Formats for Cldr {
    fn money(&self, m: Money) -> String {
        let (negative, whole, fraction) = recoup_domain::text::digits(m);
        let sign = if negative { "-" } else { "" };
        let digits = if fraction.is_empty() {
            format!("{sign}{whole}")
        } else {
            format!("{sign}{whole}.{fraction}")
        };
        let n = Decimal::try_from_str(&digits).unwrap_or_default();
        let amount = self.decimal.format(&n).to_string();
        if self.code_after {
            format!("{amount}\u{a0}{}", m.currency().code())
        } else {
            format!("{} {amount}", m.currency().code())
        }
    }

    fn date(&self, d: NaiveDate) -> String {
        match Date::try_new_gregorian(d.year(), d.month() as u8, d.day() as u8) {
            Ok(date) => self.dates.format(&date).to_string(),
            Err(_) => British.date(d),
        }
    }
}

/// The format `locale` writes figures in: its own when recoup knows one, else en-GB's (`false`).
pub fn format_for(locale: &str) -> (Box<dyn Formats>, bool) {
    if locale == crate::DEFAULT_LOCALE {
        return (Box::new(British), true);
    }
    match FORMATTED
        .contains(&locale)
        .then(|| Cldr::new(locale))
        .flatten()
    {
        Some(f) => (Box::new(f), true),
        None => (Box::new(British), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use recoup_domain::Currency;

    fn m(amount: &str, code: &str) -> Money {
        Money::new(amount.parse().unwrap(), Currency::from_code(code).unwrap()).unwrap()
    }

    #[test]
    fn each_locale_writes_money_and_dates_its_own_way() {
        let day: NaiveDate = "2026-12-02".parse().unwrap();
        let cases = [
            (
                "en-GB",
                "GBP 1,234,567.50",
                "JPY 333,334",
                "2 December 2026",
            ),
            (
                "en-US",
                "USD 1,234,567.50",
                "JPY 333,334",
                "December 2, 2026",
            ),
            (
                "de-DE",
                "1.234.567,50\u{a0}EUR",
                "333.334\u{a0}JPY",
                "2. Dezember 2026",
            ),
            (
                "fr-FR",
                "1\u{202f}234\u{202f}567,50\u{a0}EUR",
                "333\u{202f}334\u{a0}JPY",
                "2 décembre 2026",
            ),
        ];
        for (locale, big, yen, date) in cases {
            let (f, own) = format_for(locale);
            assert!(own, "{locale} has a format of its own");
            let code = &big[if big.starts_with(char::is_alphabetic) {
                0..3
            } else {
                big.len() - 3..big.len()
            }];
            assert_eq!(f.money(m("1234567.5", code)), big, "{locale}");
            assert_eq!(f.money(m("333334", "JPY")), yen, "{locale}");
            assert_eq!(f.date(day), date, "{locale}");
        }
    }

    #[test]
    fn cldr_british_english_is_the_services_own_format() {
        let cldr = Cldr::new("en-GB").expect("en-GB data");
        for (amount, code) in [("0.05", "GBP"), ("-1234.5", "EUR"), ("1000000", "JPY")] {
            assert_eq!(cldr.money(m(amount, code)), British.money(m(amount, code)));
        }
        for day in ["2026-01-01", "2028-02-29", "2026-12-31"] {
            let d: NaiveDate = day.parse().unwrap();
            assert_eq!(cldr.date(d), British.date(d));
        }
    }

    #[test]
    fn a_locale_without_a_format_writes_british_english() {
        let (f, own) = format_for("cy-GB");
        assert!(!own);
        assert_eq!(f.money(m("2000", "GBP")), "GBP 2,000.00");
    }
}
