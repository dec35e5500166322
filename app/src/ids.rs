//! Ids that end up in upstream URLs are GUIDs; anything else is refused before it leaves us.

use crate::error::AppError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A validated GUID in its canonical lower-case hyphenated form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Guid(uuid::Uuid);

impl Guid {
    pub fn parse(input: &str) -> Result<Self, AppError> {
        // Only the hyphenated 36-character form: uuid also accepts braces, URNs and bare hex,
        // none of which Partner Center uses in paths.
        let trimmed = input.trim();
        if trimmed.len() != 36 {
            return Err(AppError::InvalidInput(format!(
                "'{}' is not a GUID",
                truncate_for_message(input)
            )));
        }
        uuid::Uuid::try_parse(trimmed).map(Guid).map_err(|_| {
            AppError::InvalidInput(format!("'{}' is not a GUID", truncate_for_message(input)))
        })
    }

    #[cfg(feature = "ssr")]
    pub fn new_v4() -> Self {
        Guid(uuid::Uuid::new_v4())
    }
}

fn truncate_for_message(input: &str) -> String {
    input.chars().take(64).collect()
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl FromStr for Guid {
    type Err = AppError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Guid::parse(s)
    }
}

impl TryFrom<String> for Guid {
    type Error = AppError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Guid::parse(&value)
    }
}

impl From<Guid> for String {
    fn from(value: Guid) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_canonical_guids_in_any_case() {
        let g = Guid::parse("53018D99-AC51-4EC8-B86E-C8A61DE43717").expect("valid");
        assert_eq!(g.to_string(), "53018d99-ac51-4ec8-b86e-c8a61de43717");
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "../etc/passwd",
            "53018d99ac514ec8b86ec8a61de43717",
            "{53018d99-ac51-4ec8-b86e-c8a61de43717}",
            "53018d99-ac51-4ec8-b86e-c8a61de4371%2f",
            "53018d99-ac51-4ec8-b86e-c8a61de43717/..",
            "urn:uuid:53018d99-ac51-4ec8-b86e-c8a61de43717",
        ] {
            assert!(Guid::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn deserialising_validates() {
        let ok: Result<Guid, _> = serde_json::from_str("\"53018d99-ac51-4ec8-b86e-c8a61de43717\"");
        assert!(ok.is_ok());
        let bad: Result<Guid, _> = serde_json::from_str("\"../x\"");
        assert!(bad.is_err());
    }
}
