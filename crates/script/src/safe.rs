//! What people read is safe from the data in it. A value that comes from an account, a person or a
//! CRM (a name, an invoice number, a reason typed by an agent) is one line of plain text: no line
//! break to start a forged heading or "must not" item, no bidirectional or invisible character to
//! disguise it. In Markdown it is text, never markup: no heading, link, image, table cell or HTML.

use std::borrow::Cow;

/// Characters that reorder or hide text: bidirectional embeddings, overrides and isolates, marks,
/// and zero-width characters.
fn hidden(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// `s` as one line: line breaks, tabs and other control characters become spaces; hidden
/// characters are dropped.
pub fn line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() || hidden(c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .filter(|c| !hidden(*c))
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
    )
}

/// `s` with every character Markdown (CommonMark with GitHub's tables and strikethrough) or HTML
/// would read as markup escaped by a backslash, so it renders as the characters themselves.
pub fn escape(s: &str) -> Cow<'_, str> {
    const MARKUP: &[char] = &['\\', '`', '*', '_', '[', ']', '<', '>', '#', '|', '~'];
    if !s.contains(MARKUP) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if MARKUP.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// A value as one line of Markdown text.
pub fn markdown(s: &str) -> String {
    markdown_cow(s).into_owned()
}

/// `markdown`, borrowing `s` when it is safe as it is.
pub(crate) fn markdown_cow(s: &str) -> Cow<'_, str> {
    match line(s) {
        Cow::Borrowed(b) => escape(b),
        Cow::Owned(o) => Cow::Owned(escape(&o).into_owned()),
    }
}

/// Every string in `v` made safe by `f` (rewritten only when it changes: most values are safe as
/// they are, and guidance is rendered on every prepared call).
pub(crate) fn each_string(v: &mut serde_json::Value, f: &impl Fn(&str) -> Cow<'_, str>) {
    match v {
        serde_json::Value::String(s) => {
            if let Cow::Owned(safe) = f(s) {
                *s = safe;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| each_string(i, f)),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(|i| each_string(i, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_break_lines_hide_or_mark_up() {
        assert_eq!(line("Acme Ltd"), "Acme Ltd");
        assert_eq!(
            line("Acme\n# FAKE\r\n- must not\tpay"),
            "Acme # FAKE  - must not pay"
        );
        assert_eq!(line("evil\u{202E}gpj.exe\u{200B}"), "evilgpj.exe");
        assert_eq!(
            markdown("[click](javascript:alert(1)) <img src=x onerror=alert(1)> a|b"),
            "\\[click\\](javascript:alert(1)) \\<img src=x onerror=alert(1)\\> a\\|b"
        );
        assert_eq!(
            markdown("O'Brien & Sons (UK) Ltd."),
            "O'Brien & Sons (UK) Ltd."
        );
    }
}
