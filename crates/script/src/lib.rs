//! What recoup writes for people to read: the written agreement of a payment plan (and, as they
//! come, call guidance and letters), rendered with handlebars from templates shipped in the binary
//! and replaceable file by file. Pure: the caller reads any override files and passes their text in;
//! this crate turns templates and a model into text.
//!
//! Rendering is strict (an unknown variable is an error, never an empty string) and never
//! HTML-escapes (the output is plain text). `Templates::new` renders every template against sample
//! data, so a broken override stops the service at start, naming the file and line, instead of
//! failing on a call.

mod agreement;
pub mod text;

use handlebars::Handlebars;
use thiserror::Error;

pub use agreement::{Agreement, AgreementInvoice, AgreementLine, Party};

/// The templates shipped in the binary, by file name.
const SHIPPED: &[(&str, &str)] = &[(
    agreement::TEMPLATE,
    include_str!("../templates/plan_agreement.hbs"),
)];

/// A template that cannot be used.
#[derive(Debug, Error)]
pub enum TemplateError {
    /// An override's file name is not one of the shipped templates.
    #[error("{name}: not a template recoup uses (known: {known})")]
    Unknown { name: String, known: String },
    /// The template does not parse, or does not render against sample data.
    #[error("{name}: {detail}")]
    Broken { name: String, detail: String },
}

/// The template registry, built once at start.
pub struct Templates {
    registry: Handlebars<'static>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

impl Templates {
    /// The shipped templates, each replaced by the override of the same file name when one is given
    /// (`(file name, text)`), checked by rendering sample data.
    pub fn new(overrides: &[(String, String)]) -> Result<Templates, TemplateError> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        for (name, _) in overrides {
            if !SHIPPED.iter().any(|(n, _)| n == name) {
                return Err(TemplateError::Unknown {
                    name: name.clone(),
                    known: SHIPPED
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        for (name, shipped) in SHIPPED {
            let text = overrides
                .iter()
                .find(|(n, _)| n == name)
                .map_or(*shipped, |(_, t)| t.as_str());
            registry
                .register_template_string(name, text)
                .map_err(|e| TemplateError::Broken {
                    name: (*name).to_owned(),
                    detail: e.to_string(),
                })?;
        }
        let t = Templates { registry };
        t.agreement(&Agreement::sample())?;
        Ok(t)
    }

    /// The file names of the templates recoup uses.
    pub fn names() -> impl Iterator<Item = &'static str> {
        SHIPPED.iter().map(|(n, _)| *n)
    }

    /// A payment plan's written agreement.
    pub fn agreement(&self, a: &Agreement) -> Result<String, TemplateError> {
        self.render(agreement::TEMPLATE, a)
    }

    fn render(&self, name: &str, model: &impl serde::Serialize) -> Result<String, TemplateError> {
        self.registry
            .render(name, model)
            .map_err(|e| TemplateError::Broken {
                name: name.to_owned(),
                detail: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests;
