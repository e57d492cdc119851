//! Words recoup never writes: threats, consequences that are not real and decided, and anything
//! demeaning (DOMAIN.md: no threats, no personal remarks, nothing misleading). Every shipped template
//! is tested against this list in every tone and letter; an operator's overrides can be checked the
//! same way (`offending`).

/// Phrases (lower case) a guidance page or letter must not contain.
pub const BANNED: &[&str] = &[
    "bailiff",
    "to court",
    "in court",
    "court action",
    "county court",
    "sue you",
    "be sued",
    "prosecut",
    "criminal",
    "police",
    "prison",
    "blacklist",
    "ruin your",
    "credit rating will",
    "or else",
    "we know where",
    "your fault",
    "irresponsible",
    "lazy",
    "liar",
    "lying",
    "stupid",
    "useless",
    "pathetic",
    "shame on",
    "ashamed",
    "disgrace",
    "last warning",
    "you people",
    "seize",
    "repossess",
];

/// The banned phrases `text` contains, and any placeholder left unrendered.
pub fn offending(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut found: Vec<String> = BANNED
        .iter()
        .filter(|p| lower.contains(*p))
        .map(|p| (*p).to_owned())
        .collect();
    if text.contains("{{") || text.contains("}}") {
        found.push("an unrendered placeholder".into());
    }
    found
}
