//! The policy file (`--config FILE` or `RECOUP_CONFIG`): the house rules, one `[policy.*]` section
//! per rule family. Precedence: built-in defaults < the file < `RECOUP_POLICY__*` environment
//! variables (`RECOUP_POLICY__CONTACT__MAX_CALLS_PER_DAY=2` sets `policy.contact.max_calls_per_day`).
//! Unknown keys and values that are not what the key takes are refused here, and the policy read is
//! then held to the domain's rules (`Policy::validated`); either way the key path and the reason are
//! named (and the environment variable, when one set it), so a typo stops the start instead of
//! silently leaving a default in force. `recoup.example.toml` documents every key.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike, Weekday};
use recoup_domain::policy::{
    ContactPolicy, DAY_KEYS, DayHours, Policy, PromisePolicy, RollingLimit,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Prefix of the environment variables that override file keys; `__` separates key segments.
pub const ENV_PREFIX: &str = "RECOUP_POLICY__";

/// Why a policy could not be loaded: the key path (`policy.contact.calling_hours.start`) and the
/// reason, or the file that could not be read or parsed.
#[derive(Debug, PartialEq, Eq)]
pub struct PolicyError(String);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

/// Loads the effective policy: defaults, then the file (if any), then `RECOUP_POLICY__*` variables
/// from `env`.
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Policy, PolicyError> {
    let mut doc = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| PolicyError(format!("{}: cannot be read: {e}", path.display())))?;
            text.parse::<toml::Table>()
                .map_err(|e| PolicyError(format!("{}: {e}", path.display())))?
        }
        None => toml::Table::new(),
    };
    let mut from_env = Vec::new();
    for (name, raw) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let mut path: Vec<String> = vec!["policy".into()];
        path.extend(rest.split("__").map(str::to_ascii_lowercase));
        set(&mut doc, &path, env_value(&raw))
            .map_err(|reason| PolicyError(format!("{name}: {reason}")))?;
        from_env.push((path.join("."), name));
    }
    let source = |path: &str| {
        from_env
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, name)| format!(" (set by {name})"))
            .unwrap_or_default()
    };
    let parsed: FileDoc =
        serde_path_to_error::deserialize(toml::Value::Table(doc)).map_err(|e| {
            let path = e.path().to_string();
            let source = source(&path);
            PolicyError(format!("{path}: {}{source}", e.into_inner().message()))
        })?;
    parsed.policy.into_domain()?.validated().map_err(|v| {
        PolicyError(
            v.iter()
                .map(|x| {
                    let path = format!("policy.{}", x.field);
                    let source = source(&path);
                    format!("{path}: {}{source}", x.description)
                })
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })
}

/// The effective policy as a policy file, every key written out (what `recoupd check-config` prints).
pub fn render(policy: &Policy) -> String {
    let doc = FileDoc {
        policy: PolicyDoc::from_domain(policy),
    };
    toml::to_string_pretty(&doc).expect("the policy document always serialises")
}

/// An environment value is read as a TOML value when it is one (`2`, `true`, `["mon", "tue"]`),
/// and as a string otherwise (`09:00`, which TOML would read as a time of day, stays as written).
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_datetime())
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn set(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = path.split_last().expect("path has the policy prefix");
    let mut here = table;
    for (depth, key) in parents.iter().enumerate() {
        let entry = here
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        here = entry
            .as_table_mut()
            .ok_or_else(|| format!("{} is not a section", parents[..=depth].join(".")))?;
    }
    here.insert(last.clone(), value);
    Ok(())
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    policy: PolicyDoc,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct PolicyDoc {
    contact: ContactDoc,
    promises: PromisesDoc,
    interest: interest::InterestDoc,
    category: category::CategoryDoc,
    plans: plans::PlansDoc,
    guidance: guidance::GuidanceDoc,
    floor: floor::FloorDoc,
    requests: requests::RequestsDoc,
    reporting: reporting::ReportingDoc,
}

impl Default for PolicyDoc {
    fn default() -> Self {
        Self::from_domain(&Policy::default())
    }
}

impl PolicyDoc {
    fn from_domain(policy: &Policy) -> Self {
        Self {
            contact: ContactDoc::from_domain(&policy.contact),
            promises: PromisesDoc::from_domain(&policy.promises),
            interest: interest::InterestDoc::from_domain(&policy.interest),
            category: category::CategoryDoc::from_domain(&policy.category),
            plans: plans::PlansDoc::from_domain(&policy.plans),
            guidance: guidance::GuidanceDoc::from_domain(&policy.guidance),
            floor: floor::FloorDoc::from_domain(&policy.floor),
            requests: requests::RequestsDoc::from_domain(&policy.requests),
            reporting: reporting::ReportingDoc::from_domain(&policy.reporting),
        }
    }

    fn into_domain(self) -> Result<Policy, PolicyError> {
        Ok(Policy {
            contact: self.contact.into_domain()?,
            promises: self.promises.into_domain(),
            interest: self.interest.into_domain()?,
            category: self.category.into_domain(),
            plans: self.plans.into_domain()?,
            guidance: self.guidance.into_domain(),
            floor: self.floor.into_domain()?,
            requests: self.requests.into_domain(),
            reporting: self.reporting.into_domain()?,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ContactDoc {
    max_calls_per_day: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    rolling_limit: Option<RollingDoc>,
    callback_window_minutes: u32,
    non_working_dates: Vec<LocalDate>,
    calling_hours: HoursDoc,
}

impl Default for ContactDoc {
    fn default() -> Self {
        Self::from_domain(&ContactPolicy::default())
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RollingDoc {
    max_calls: u32,
    days: u32,
}

/// Calling hours: `start`–`end` on each of `days`, and a table per weekday for a day with other
/// hours (a weekday table also opens a day left out of `days`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HoursDoc {
    start: TimeOfDay,
    end: TimeOfDay,
    days: Vec<Day>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    monday: Option<DayDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tuesday: Option<DayDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wednesday: Option<DayDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    thursday: Option<DayDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    friday: Option<DayDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    saturday: Option<DayDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sunday: Option<DayDoc>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DayDoc {
    start: TimeOfDay,
    end: TimeOfDay,
}

impl HoursDoc {
    fn overrides(&self) -> [Option<DayDoc>; 7] {
        [
            self.monday,
            self.tuesday,
            self.wednesday,
            self.thursday,
            self.friday,
            self.saturday,
            self.sunday,
        ]
    }
}

impl ContactDoc {
    fn from_domain(p: &ContactPolicy) -> Self {
        // The most common hours become start/end/days; other open days get a table of their own.
        let mut counts: Vec<(DayHours, usize)> = Vec::new();
        for h in p.hours.iter().flatten() {
            match counts.iter_mut().find(|(x, _)| x == h) {
                Some((_, n)) => *n += 1,
                None => counts.push((*h, 1)),
            }
        }
        let common = counts
            .iter()
            .max_by_key(|(_, n)| *n)
            .map(|(h, _)| *h)
            .unwrap_or(DayHours {
                start: NaiveTime::MIN,
                end: NaiveTime::MIN,
            });
        let mut days = Vec::new();
        let mut own: [Option<DayDoc>; 7] = [None; 7];
        for (i, h) in p.hours.iter().enumerate() {
            match h {
                Some(h) if *h == common => days.push(Day(weekday(i))),
                Some(h) => {
                    own[i] = Some(DayDoc {
                        start: TimeOfDay(h.start),
                        end: TimeOfDay(h.end),
                    })
                }
                None => {}
            }
        }
        let [
            monday,
            tuesday,
            wednesday,
            thursday,
            friday,
            saturday,
            sunday,
        ] = own;
        Self {
            max_calls_per_day: p.max_calls_per_day,
            rolling_limit: p.rolling_limit.map(|r| RollingDoc {
                max_calls: r.max_calls,
                days: r.days,
            }),
            callback_window_minutes: p.callback_window_minutes,
            non_working_dates: p.non_working_dates.iter().copied().map(LocalDate).collect(),
            calling_hours: HoursDoc {
                start: TimeOfDay(common.start),
                end: TimeOfDay(common.end),
                days,
                monday,
                tuesday,
                wednesday,
                thursday,
                friday,
                saturday,
                sunday,
            },
        }
    }

    fn into_domain(self) -> Result<ContactPolicy, PolicyError> {
        let h = &self.calling_hours;
        // The days that share these hours would each be refused; say it of the keys written.
        if h.start.0 >= h.end.0 {
            return Err(PolicyError(format!(
                "policy.contact.calling_hours.end: \"{}\" is not after start \"{}\"",
                h.end, h.start
            )));
        }
        let mut hours = [None; 7];
        for day in &h.days {
            hours[day.0.num_days_from_monday() as usize] = Some(DayHours {
                start: h.start.0,
                end: h.end.0,
            });
        }
        for (i, own) in h.overrides().into_iter().enumerate() {
            if let Some(own) = own {
                hours[i] = Some(DayHours {
                    start: own.start.0,
                    end: own.end.0,
                });
            }
        }
        Ok(ContactPolicy {
            max_calls_per_day: self.max_calls_per_day,
            rolling_limit: self.rolling_limit.map(|r| RollingLimit {
                max_calls: r.max_calls,
                days: r.days,
            }),
            hours,
            non_working_dates: self
                .non_working_dates
                .into_iter()
                .map(|d| d.0)
                .collect::<BTreeSet<_>>(),
            callback_window_minutes: self.callback_window_minutes,
        })
    }
}

fn invalid(section: &str, key: &str, value: impl fmt::Display, why: &str) -> PolicyError {
    PolicyError(format!("{section}.{key}: {value} {why}"))
}

fn weekday(monday_first: usize) -> Weekday {
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ][monday_first]
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct PromisesDoc {
    grace_days: u32,
    broken_window_days: u32,
    max_days_ahead: u32,
}

impl Default for PromisesDoc {
    fn default() -> Self {
        Self::from_domain(&PromisePolicy::default())
    }
}

impl PromisesDoc {
    fn from_domain(p: &PromisePolicy) -> Self {
        Self {
            grace_days: p.grace_days,
            broken_window_days: p.broken_window_days,
            max_days_ahead: p.max_days_ahead,
        }
    }

    fn into_domain(self) -> PromisePolicy {
        PromisePolicy {
            grace_days: self.grace_days,
            broken_window_days: self.broken_window_days,
            max_days_ahead: self.max_days_ahead,
        }
    }
}

/// A local time of day written `HH:MM` (24-hour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TimeOfDay(NaiveTime);

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // "09:00" as a string, or 09:00 as a TOML time of day (which reaches here as "09:00:00").
        let text = match toml::Value::deserialize(d)? {
            toml::Value::String(s) => s,
            toml::Value::Datetime(dt) if dt.date.is_none() && dt.offset.is_none() => dt.to_string(),
            other => other.to_string(),
        };
        let whole_minute = |t: &NaiveTime| t.second() == 0 && t.nanosecond() == 0;
        NaiveTime::parse_from_str(&text, "%H:%M")
            .ok()
            .or_else(|| {
                NaiveTime::parse_from_str(&text, "%H:%M:%S")
                    .ok()
                    .filter(whole_minute)
            })
            .map(TimeOfDay)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "\"{text}\" is not a time of day (HH:MM, 24-hour)"
                ))
            })
    }
}

/// A calendar date, written as a TOML date (`2026-12-25`) or a string (`"2026-12-25"`).
#[derive(Debug, Clone, Copy)]
struct LocalDate(NaiveDate);

impl Serialize for LocalDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Policy dates are validated to years 1..=9999, which fit.
        let date = toml::value::Date {
            year: u16::try_from(self.0.year()).unwrap_or_default(),
            month: self.0.month() as u8,
            day: self.0.day() as u8,
        };
        toml::value::Datetime {
            date: Some(date),
            time: None,
            offset: None,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for LocalDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = match toml::Value::deserialize(d)? {
            toml::Value::String(s) => s,
            toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => dt.to_string(),
            other => other.to_string(),
        };
        NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .map(LocalDate)
            .map_err(|_| {
                serde::de::Error::custom(format!("{text} is not a calendar date (YYYY-MM-DD)"))
            })
    }
}

/// A weekday written as its English name or three-letter abbreviation, any case.
#[derive(Debug, Clone, Copy)]
struct Day(Weekday);

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&DAY_KEYS[self.0.num_days_from_monday() as usize][..3])
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<Weekday>().map(Day).map_err(|_| {
            serde::de::Error::custom(format!(
                "\"{text}\" is not a weekday (mon, tue, wed, thu, fri, sat, sun)"
            ))
        })
    }
}

mod category;
mod floor;
mod guidance;
mod interest;
mod plans;
mod reporting;
mod requests;
#[cfg(test)]
mod tests;
