//! Money: an exact decimal amount in an ISO 4217 currency, never a float.
//!
//! Amounts are `rust_decimal::Decimal` in memory and integer minor units (pence, cents, yen) in
//! storage; the currency's ISO 4217 exponent converts between the two, and any amount finer than the
//! minor unit is refused rather than rounded.

use std::fmt;

use rust_decimal::Decimal;
use thiserror::Error;

/// An ISO 4217 currency with a minor unit (precious metals and funds codes have none and are refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Looks up an upper-case ISO 4217 code.
    pub fn from_code(code: &str) -> Result<Self, MoneyError> {
        let c = iso_currency::Currency::from_code(code)
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_owned()))?;
        if c.exponent().is_none() {
            return Err(MoneyError::UnknownCurrency(code.to_owned()));
        }
        Ok(Self(c))
    }

    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Digits after the decimal point in the minor unit: 2 for GBP, 0 for JPY, 3 for KWD.
    pub fn exponent(self) -> u32 {
        u32::from(self.0.exponent().unwrap_or(0))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why an amount is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MoneyError {
    #[error("{}", unknown_currency(.0))]
    UnknownCurrency(String),
    #[error("units and nanos must not have opposite signs")]
    MixedSigns,
    #[error("nanos must be between -999,999,999 and 999,999,999")]
    NanosOutOfRange,
    #[error(
        "{amount} {currency} is finer than the currency's minor unit ({exponent} decimal places)"
    )]
    TooPrecise {
        amount: Decimal,
        currency: Currency,
        exponent: u32,
    },
    #[error("the amount is too large")]
    Overflow,
    #[error("currency {found} does not match the account's currency {expected}")]
    CurrencyMismatch { expected: Currency, found: Currency },
}

fn unknown_currency(code: &str) -> String {
    if code.is_empty() {
        "currency_code is required".into()
    } else {
        format!("'{code}' is not an ISO 4217 currency code with a minor unit")
    }
}

/// An exact amount in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

const NANOS_PER_UNIT: i64 = 1_000_000_000;

impl Money {
    /// An amount, refused when finer than the currency's minor unit.
    pub fn new(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        let exponent = currency.exponent();
        if amount.normalize().scale() > exponent {
            return Err(MoneyError::TooPrecise {
                amount,
                currency,
                exponent,
            });
        }
        let mut amount = amount;
        // Same scale as `from_minor`, so equal amounts print alike.
        amount.rescale(exponent);
        Ok(Self { amount, currency })
    }

    pub fn zero(currency: Currency) -> Self {
        Self {
            amount: Decimal::ZERO,
            currency,
        }
    }

    /// From google.type.Money-style parts: `units + nanos / 1e9`.
    pub fn from_parts(currency_code: &str, units: i64, nanos: i32) -> Result<Self, MoneyError> {
        let currency = Currency::from_code(currency_code)?;
        if i64::from(nanos).abs() >= NANOS_PER_UNIT {
            return Err(MoneyError::NanosOutOfRange);
        }
        if (units > 0 && nanos < 0) || (units < 0 && nanos > 0) {
            return Err(MoneyError::MixedSigns);
        }
        let amount = Decimal::from(units) + Decimal::new(i64::from(nanos), 9);
        Self::new(amount, currency)
    }

    /// The google.type.Money-style parts `(units, nanos)`.
    pub fn to_parts(self) -> (i64, i32) {
        let units = self.amount.trunc();
        let nanos = ((self.amount - units) * Decimal::from(NANOS_PER_UNIT)).trunc();
        // Both fit: amounts come from i64 minor units, and the fraction is below one unit.
        (
            i64::try_from(units).unwrap_or(i64::MAX),
            i32::try_from(nanos).unwrap_or(0),
        )
    }

    /// From integer minor units (as stored).
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Self {
            amount: Decimal::new(minor, currency.exponent()),
            currency,
        }
    }

    /// Integer minor units (for storage); exact, since `new` refused finer amounts.
    pub fn to_minor(self) -> Result<i64, MoneyError> {
        let scaled = self.amount * Decimal::from(10i64.pow(self.currency.exponent()));
        i64::try_from(scaled.trunc()).map_err(|_| MoneyError::Overflow)
    }

    /// The same currency with another amount; `amount` must come from sums of this currency's
    /// amounts, which cannot be finer than its minor unit.
    pub fn with_amount(self, amount: Decimal) -> Self {
        Self {
            amount,
            currency: self.currency,
        }
    }

    pub fn amount(self) -> Decimal {
        self.amount
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    pub fn is_zero(self) -> bool {
        self.amount.is_zero()
    }

    pub fn is_positive(self) -> bool {
        self.amount > Decimal::ZERO
    }

    pub fn is_negative(self) -> bool {
        self.amount < Decimal::ZERO
    }

    /// Refuses an amount in another currency than `expected`.
    pub fn expect_currency(self, expected: Currency) -> Result<Self, MoneyError> {
        if self.currency == expected {
            Ok(self)
        } else {
            Err(MoneyError::CurrencyMismatch {
                expected,
                found: self.currency,
            })
        }
    }
}

/// The service's one format: "GBP 2,000.00" (`text::British`).
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::text::Formats;
        f.write_str(&crate::text::British.money(*self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbp() -> Currency {
        Currency::from_code("GBP").unwrap()
    }

    #[test]
    fn parts_round_trip_exactly() {
        let m = Money::from_parts("GBP", 12, 340_000_000).unwrap();
        assert_eq!(m.amount().to_string(), "12.34");
        assert_eq!(m.to_minor().unwrap(), 1234);
        assert_eq!(m.to_parts(), (12, 340_000_000));
        let neg = Money::from_parts("GBP", -3, -50_000_000).unwrap();
        assert_eq!(neg.to_parts(), (-3, -50_000_000));
        assert_eq!(Money::from_minor(-305, gbp()), neg);
    }

    #[test]
    fn refuses_malformed_parts() {
        assert_eq!(Money::from_parts("GBP", 1, -1), Err(MoneyError::MixedSigns));
        assert_eq!(Money::from_parts("GBP", -1, 1), Err(MoneyError::MixedSigns));
        assert_eq!(
            Money::from_parts("GBP", 0, 1_000_000_000),
            Err(MoneyError::NanosOutOfRange)
        );
        assert!(matches!(
            Money::from_parts("gbp", 1, 0),
            Err(MoneyError::UnknownCurrency(_))
        ));
        assert!(matches!(
            Money::from_parts("XAU", 1, 0),
            Err(MoneyError::UnknownCurrency(_))
        ));
    }

    #[test]
    fn precision_follows_the_currency_exponent() {
        assert!(matches!(
            Money::from_parts("GBP", 0, 1_000_000),
            Err(MoneyError::TooPrecise { exponent: 2, .. })
        ));
        assert!(matches!(
            Money::from_parts("JPY", 1, 500_000_000),
            Err(MoneyError::TooPrecise { exponent: 0, .. })
        ));
        let kwd = Money::from_parts("KWD", 1, 234_000_000).unwrap();
        assert_eq!(kwd.to_minor().unwrap(), 1234);
        // Trailing zeros are not extra precision.
        assert!(Money::new("1.500".parse().unwrap(), gbp()).is_ok());
    }

    #[test]
    fn displays_with_the_minor_unit_places() {
        assert_eq!(Money::from_minor(5, gbp()).to_string(), "GBP 0.05");
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(Money::from_minor(1200, jpy).to_string(), "JPY 1,200");
    }
}
