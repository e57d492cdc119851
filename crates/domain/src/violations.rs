//! Collects every problem with an input, each against the field it concerns, so a caller hears about
//! all of them at once rather than one per retry.

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Path of the field, e.g. `invoices[2].due_date`.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// The problems found so far.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(Vec<Violation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(Violation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Adds another set of problems, with `prefix.` before each of their field paths.
    pub fn extend_prefixed(&mut self, prefix: &str, other: Violations) {
        for v in other.0 {
            let field = if prefix.is_empty() {
                v.field
            } else {
                format!("{prefix}.{}", v.field)
            };
            self.0.push(Violation { field, ..v });
        }
    }

    /// Checks a required free-text field: present and within `max` characters.
    pub fn required_text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.push(field, "is required");
        } else {
            self.optional_text(field, value, max);
        }
    }

    /// Checks a required identifier (an external ref, invoice number, reference or request id): like
    /// `required_line`, and without leading or trailing whitespace, which would make " A-1" a
    /// second key beside "A-1" for what the sender meant as one.
    pub fn identifier(&mut self, field: &str, value: &str, max: usize) {
        if !value.trim().is_empty() && value.trim() != value {
            self.push(field, "must not begin or end with whitespace");
        } else {
            self.required_line(field, value, max);
        }
    }

    /// Checks a required name or other one-line text: like `required_text`, on one line (a name
    /// with a line break would start a line of its own in what people read).
    pub fn required_line(&mut self, field: &str, value: &str, max: usize) {
        if value.contains(['\n', '\t']) {
            self.push(field, "must be one line (no line breaks or tabs)");
        } else {
            self.required_text(field, value, max);
        }
    }

    /// Checks an optional one-line text: like `optional_text`, on one line.
    pub fn optional_line(&mut self, field: &str, value: &str, max: usize) {
        if value.contains(['\n', '\t']) {
            self.push(field, "must be one line (no line breaks or tabs)");
        } else {
            self.optional_text(field, value, max);
        }
    }

    /// Checks an optional free-text field: within `max` characters, free of control characters
    /// (line breaks and tabs aside) and of bidirectional controls, which would show text in an
    /// order other than the one stored.
    pub fn optional_text(&mut self, field: &str, value: &str, max: usize) {
        let chars = value.chars().count();
        if chars > max {
            self.push(
                field,
                format!("is {chars} characters long; at most {max} are allowed"),
            );
        } else if value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            self.push(field, "contains control characters");
        } else if value.chars().any(is_bidi_control) {
            self.push(
                field,
                "contains bidirectional control characters (U+202A-U+202E, U+2066-U+2069, \
                 U+200E, U+200F, U+061C)",
            );
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Violation> {
        self.0.iter()
    }

    /// `Ok(value)` when nothing was found, else the problems.
    pub fn into_result<T>(self, value: T) -> Result<T, Violations> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

/// The characters that reorder how text is displayed: embeddings, overrides, isolates and marks.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

impl IntoIterator for Violations {
    type Item = Violation;
    type IntoIter = std::vec::IntoIter<Violation>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules_count_characters_not_bytes() {
        let mut v = Violations::new();
        v.required_text("a", "ééé", 3);
        v.required_text("b", "  ", 3);
        v.optional_text("c", "abcd", 3);
        v.optional_text("d", "a\u{0}b", 10);
        let fields: Vec<_> = v.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(fields, ["b", "c", "d"]);
    }

    #[test]
    fn identifiers_refuse_surrounding_whitespace() {
        let mut v = Violations::new();
        v.identifier("a", "CRM-1", 64);
        v.identifier("b", " CRM-1", 64);
        v.identifier("c", "CRM-1\t", 64);
        v.identifier("d", "", 64);
        v.identifier("e", "CRM 1", 64);
        let fields: Vec<_> = v.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(fields, ["b", "c", "d"]);
    }

    #[test]
    fn prefixes_nested_paths() {
        let mut inner = Violations::new();
        inner.push("due_date", "bad");
        let mut outer = Violations::new();
        outer.extend_prefixed("invoices[2]", inner);
        assert_eq!(outer.iter().next().unwrap().field, "invoices[2].due_date");
    }
}
