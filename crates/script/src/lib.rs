//! What recoup writes for people to read: call guidance, letters and the written agreement of a
//! payment plan, rendered with handlebars from templates shipped in the binary and replaceable file
//! by file. Pure: the caller reads any override files and passes their text in; this crate turns
//! templates and a model into text.
//!
//! Rendering is strict (an unknown variable is an error, never an empty string) and never
//! HTML-escapes (the output is text). `Templates::new` renders every template of every locale
//! against sample data in every tone, so a broken override stops the service at start, naming the
//! file and line, instead of failing on a call.
//!
//! A locale is a folder of files (`cy-GB/letters/first_reminder.hbs`); a file it lacks falls back to
//! the default locale's (`en-GB`, British English), so a locale may translate only some files.
//! Money and dates are written in the locale's own format (`text`: en-GB, en-US, de-DE and fr-FR
//! from CLDR), so those locales exist even without a folder; a folder for another locale writes
//! them as en-GB does, and `unformatted_locales` names it for the start-up log.

mod agreement;
pub mod conduct;
pub mod guidance;
pub mod letters;
pub mod safe;
pub mod terms;
pub mod text;
pub mod tone;

use std::collections::BTreeMap;

use handlebars::Handlebars;
use thiserror::Error;

pub use agreement::{Agreement, AgreementInvoice, AgreementLine, Party};
pub use guidance::{CallContext, Guidance};
pub use letters::{Letter, LetterContext, LetterKind};
pub use tone::Tone;

/// The locale used when a caller names none.
pub const DEFAULT_LOCALE: &str = "en-GB";

macro_rules! shipped {
    ($path:literal) => {
        ($path, include_str!(concat!("../templates/en-GB/", $path)))
    };
}

/// The templates shipped in the binary (the default locale), by path.
const SHIPPED: &[(&str, &str)] = &[
    shipped!("guidance/before_you_dial.hbs"),
    shipped!("guidance/closing/courtesy.hbs"),
    shipped!("guidance/closing/dispute_resolution.hbs"),
    shipped!("guidance/closing/do_not_call.hbs"),
    shipped!("guidance/closing/final_notice.hbs"),
    shipped!("guidance/closing/firm.hbs"),
    shipped!("guidance/closing/friendly_reminder.hbs"),
    shipped!("guidance/closing/understanding.hbs"),
    shipped!("guidance/must_not.hbs"),
    shipped!("guidance/objections.hbs"),
    shipped!("guidance/opening/courtesy.hbs"),
    shipped!("guidance/opening/dispute_resolution.hbs"),
    shipped!("guidance/opening/do_not_call.hbs"),
    shipped!("guidance/opening/final_notice.hbs"),
    shipped!("guidance/opening/firm.hbs"),
    shipped!("guidance/opening/friendly_reminder.hbs"),
    shipped!("guidance/opening/understanding.hbs"),
    shipped!("guidance/headings.hbs"),
    shipped!("guidance/negotiation.hbs"),
    shipped!("guidance/questions.hbs"),
    shipped!("guidance/talking_points/courtesy.hbs"),
    shipped!("guidance/talking_points/dispute_resolution.hbs"),
    shipped!("guidance/talking_points/do_not_call.hbs"),
    shipped!("guidance/talking_points/final_notice.hbs"),
    shipped!("guidance/talking_points/firm.hbs"),
    shipped!("guidance/talking_points/friendly_reminder.hbs"),
    shipped!("guidance/talking_points/understanding.hbs"),
    shipped!("letters/agency_referral_notice.hbs"),
    shipped!("letters/dispute_acknowledgement.hbs"),
    shipped!("letters/final_notice.hbs"),
    shipped!("letters/first_reminder.hbs"),
    shipped!("letters/plan_agreement.hbs"),
    shipped!("letters/pre_call_statement.hbs"),
    shipped!("letters/second_reminder.hbs"),
    shipped!("plan_agreement.hbs"),
];

/// A template that cannot be used.
#[derive(Debug, Error)]
pub enum TemplateError {
    /// An override's path is not one of the shipped templates.
    #[error(
        "{name}: not a template recoup uses (see the shipped ones under crates/script/templates/en-GB)"
    )]
    Unknown { name: String },
    /// The template does not parse, or does not render against sample data.
    #[error("{name}: {detail}")]
    Broken { name: String, detail: String },
    /// No such locale.
    #[error("no templates for locale '{0}'")]
    NoLocale(String),
}

/// The template registry, built once at start.
pub struct Templates {
    registry: Handlebars<'static>,
    /// Where each registered template came from, by registry name: the override's path, or
    /// "shipped …".
    origin: BTreeMap<String, String>,
    /// Locales with templates of their own or a format of their own (`text::FORMATTED`).
    locales: Vec<String>,
    /// The guidance page's words around the sections, by locale (rendered once).
    headings: BTreeMap<String, guidance::Headings>,
    /// How each locale writes money and dates.
    formats: BTreeMap<String, Box<dyn text::Formats>>,
    /// Locales whose templates came without a format of their own (they write figures as en-GB).
    unformatted: Vec<String>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("locales", &self.locales)
            .finish_non_exhaustive()
    }
}

/// Whether a path's first folder names a locale ("fr", "cy-GB").
fn locale_folder(first: &str) -> bool {
    let (lang, region) = first.split_once('-').unwrap_or((first, ""));
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && (region.is_empty()
            || (region.len() == 2 && region.bytes().all(|b| b.is_ascii_uppercase())))
}

impl Templates {
    /// The shipped templates with `overrides` (path relative to the templates folder, text) in
    /// place of those of the same path; a path under a locale folder belongs to that locale.
    /// Every template is then rendered against sample data.
    pub fn new(overrides: &[(String, String)]) -> Result<Templates, TemplateError> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        registry.register_helper("plural", Box::new(plural_helper));
        let mut origin = BTreeMap::new();
        let mut locales = vec![DEFAULT_LOCALE.to_owned()];
        for (path, text) in SHIPPED {
            let key = format!("{DEFAULT_LOCALE}/{path}");
            origin.insert(key.clone(), format!("shipped {key}"));
            register(&mut registry, &key, text, &format!("shipped {key}"))?;
        }
        for (given, text) in overrides {
            let (locale, path) = match given.split_once('/') {
                Some((first, rest)) if locale_folder(first) => (first.to_owned(), rest),
                _ => (DEFAULT_LOCALE.to_owned(), given.as_str()),
            };
            if !SHIPPED.iter().any(|(p, _)| *p == path) {
                return Err(TemplateError::Unknown {
                    name: given.clone(),
                });
            }
            if !locales.contains(&locale) {
                locales.push(locale.clone());
            }
            let key = format!("{locale}/{path}");
            register(&mut registry, &key, text, given)?;
            origin.insert(key, given.clone());
        }
        let mut formats = BTreeMap::new();
        let mut unformatted = Vec::new();
        for locale in &locales {
            let (format, own) = text::format_for(locale);
            if !own {
                unformatted.push(locale.clone());
            }
            formats.insert(locale.clone(), format);
        }
        for locale in text::FORMATTED {
            if !locales.iter().any(|l| l == locale) {
                locales.push(locale.to_owned());
                formats.insert(locale.to_owned(), text::format_for(locale).0);
            }
        }
        let mut t = Templates {
            registry,
            origin,
            locales,
            headings: BTreeMap::new(),
            formats,
            unformatted,
        };
        for locale in t.locales.clone() {
            let text = t.render(&locale, guidance::HEADINGS, &serde_json::json!({}))?;
            let headings =
                guidance::Headings::parse(&text).map_err(|detail| TemplateError::Broken {
                    name: t.name_of(&locale, guidance::HEADINGS),
                    detail,
                })?;
            t.headings.insert(locale, headings);
        }
        t.check()?;
        Ok(t)
    }

    /// Renders every template of every locale against sample data, in every tone.
    fn check(&self) -> Result<(), TemplateError> {
        for locale in &self.locales {
            self.agreement_in(locale, &Agreement::sample())?;
            for tone in Tone::ALL {
                self.guidance(locale, &CallContext::sample(tone), tone)?;
            }
            for kind in LetterKind::ALL {
                self.letter(locale, kind, &LetterContext::sample())?;
            }
        }
        Ok(())
    }

    /// The locales there are templates or formats for, the default first.
    pub fn locales(&self) -> &[String] {
        &self.locales
    }

    /// How `locale` writes money and dates (en-GB's for a locale recoup has no format for).
    pub fn format(&self, locale: &str) -> &dyn text::Formats {
        self.formats
            .get(locale)
            .map_or(&text::British as &dyn text::Formats, |f| f.as_ref())
    }

    /// Locales with templates but no format of their own: they write money and dates as en-GB.
    pub fn unformatted_locales(&self) -> &[String] {
        &self.unformatted
    }

    /// A payment plan's written agreement, in the default locale.
    pub fn agreement(&self, a: &Agreement) -> Result<String, TemplateError> {
        self.agreement_in(DEFAULT_LOCALE, a)
    }

    fn agreement_in(&self, locale: &str, a: &Agreement) -> Result<String, TemplateError> {
        self.render(locale, agreement::TEMPLATE, a)
    }

    /// The guidance for a call in `tone`.
    pub fn guidance(
        &self,
        locale: &str,
        c: &CallContext,
        tone: Tone,
    ) -> Result<Guidance, TemplateError> {
        // The context is turned into JSON once and shared by every section (handlebars would
        // otherwise convert the whole model again for each render).
        let base = safe_context("call context", c, None, &safe::line)?;
        let section =
            |path: &str| self.render_in(locale, &path.replace("{tone}", tone.key()), &base);
        let before_you_dial = guidance::lines(&section(guidance::BEFORE)?);
        let opening = section(guidance::OPENING)?.trim().to_owned();
        let talking_points = guidance::lines(&section(guidance::POINTS)?);
        let questions = guidance::lines(&section(guidance::QUESTIONS)?);
        let objections = guidance::objections(&section(guidance::OBJECTIONS)?);
        let must_not = guidance::lines(&section(guidance::MUST_NOT)?);
        let closing = section(guidance::CLOSING)?.trim().to_owned();
        let negotiation = guidance::lines(&section(guidance::NEGOTIATION)?);
        let mut g = Guidance {
            before_you_dial,
            opening,
            talking_points,
            questions,
            objections,
            must_not,
            closing,
            text: String::new(),
            markdown: String::new(),
        };
        let headings = self
            .headings
            .get(locale)
            .or_else(|| self.headings.get(DEFAULT_LOCALE))
            .ok_or_else(|| TemplateError::NoLocale(locale.to_owned()))?;
        (g.text, g.markdown) = guidance::pages(headings, c, &g, &negotiation);
        Ok(g)
    }

    /// A letter of `kind`.
    pub fn letter(
        &self,
        locale: &str,
        kind: LetterKind,
        c: &LetterContext,
    ) -> Result<Letter, TemplateError> {
        let path = kind.template();
        // The account's data is in `context`; the tables beside it are built safe already.
        let text = safe_context(
            &path,
            &letters::rendering(c, false),
            Some("context"),
            &safe::line,
        )?;
        let text = self.render_in(locale, &path, &text)?;
        let markdown = safe_context(
            &path,
            &letters::rendering(c, true),
            Some("context"),
            &safe::markdown_cow,
        )?;
        let markdown = self.render_in(locale, &path, &markdown)?;
        let (subject, text) = letters::split(&text);
        let (_, markdown) = letters::split(&markdown);
        Ok(Letter {
            subject,
            text,
            markdown,
        })
    }

    /// Renders `path` of `locale`, or of the default locale when `locale` lacks it.
    fn render(
        &self,
        locale: &str,
        path: &str,
        model: &impl serde::Serialize,
    ) -> Result<String, TemplateError> {
        let context = safe_context(path, model, None, &safe::line)?;
        self.render_in(locale, path, &context)
    }

    /// The registry key `path` of `locale` renders from: its own file, or the default locale's.
    fn key(&self, locale: &str, path: &str) -> String {
        let own = format!("{locale}/{path}");
        if self.registry.has_template(&own) {
            own
        } else {
            format!("{DEFAULT_LOCALE}/{path}")
        }
    }

    /// Where `path` of `locale` comes from, for messages.
    fn name_of(&self, locale: &str, path: &str) -> String {
        let key = self.key(locale, path);
        self.origin.get(&key).cloned().unwrap_or(key)
    }

    fn render_in(
        &self,
        locale: &str,
        path: &str,
        context: &handlebars::Context,
    ) -> Result<String, TemplateError> {
        if !self.locales.iter().any(|l| l == locale) {
            return Err(TemplateError::NoLocale(locale.to_owned()));
        }
        let key = self.key(locale, path);
        self.registry
            .render_with_context(&key, context)
            .map_err(|e| TemplateError::Broken {
                name: self.origin.get(&key).cloned().unwrap_or(key),
                detail: e.to_string(),
            })
    }
}

/// `model` as a template's context, every string in it (or in its field `within`) made safe by
/// `safe`: what the data says is shown as text, whatever it holds.
fn safe_context(
    name: &str,
    model: &impl serde::Serialize,
    within: Option<&str>,
    safe: &impl Fn(&str) -> std::borrow::Cow<'_, str>,
) -> Result<handlebars::Context, TemplateError> {
    let mut context = handlebars::Context::wraps(model).map_err(|e| TemplateError::Broken {
        name: name.to_owned(),
        detail: e.to_string(),
    })?;
    let data = context.data_mut();
    match within {
        None => safe::each_string(data, safe),
        Some(field) => {
            if let Some(part) = data.get_mut(field) {
                safe::each_string(part, safe);
            }
        }
    }
    Ok(context)
}

// `{{plural n "promise" "promises"}}`: the count with its noun ("1 promise", "2 promises").
handlebars::handlebars_helper!(plural_helper: |n: u64, one: str, many: str| {
    text::plural(usize::try_from(n).unwrap_or(usize::MAX), one, many)
});

fn register(
    registry: &mut Handlebars<'static>,
    key: &str,
    text: &str,
    name: &str,
) -> Result<(), TemplateError> {
    registry
        .register_template_string(key, text)
        .map_err(|e| TemplateError::Broken {
            name: name.to_owned(),
            detail: e.to_string(),
        })
}

#[cfg(test)]
mod tests;
