//! Ids that end up in upstream URLs are GUIDs, or GDAP relationship ids (two GUIDs joined by
//! `-`); anything else is refused before it leaves us.

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

/// A GDAP relationship id: two GUIDs joined by `-` (73 characters), e.g.
/// `5d027261-d21f-4aa9-b7db-7fa1f56fb163-8777b240-c6f0-4469-9e98-a3205431b836`. Not a GUID, so
/// it has its own check; kept in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RelationshipId(String);

impl RelationshipId {
    pub const LEN: usize = 73;

    pub fn parse(input: &str) -> Result<Self, AppError> {
        let refuse = || {
            AppError::InvalidInput(format!(
                "'{}' is not a GDAP relationship id (two GUIDs joined by '-')",
                truncate_for_message(input)
            ))
        };
        let trimmed = input.trim();
        // Byte checks first, so slicing below stays on character boundaries.
        if trimmed.len() != Self::LEN || !trimmed.is_ascii() || trimmed.as_bytes()[36] != b'-' {
            return Err(refuse());
        }
        let (first, second) = (&trimmed[..36], &trimmed[37..]);
        for half in [first, second] {
            // Only the hyphenated form: 36 characters rule out braces, URNs and bare hex.
            uuid::Uuid::try_parse(half).map_err(|_| refuse())?;
        }
        Ok(RelationshipId(trimmed.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RelationshipId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for RelationshipId {
    type Err = AppError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RelationshipId::parse(s)
    }
}

impl TryFrom<String> for RelationshipId {
    type Error = AppError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        RelationshipId::parse(&value)
    }
}

impl From<RelationshipId> for String {
    fn from(value: RelationshipId) -> Self {
        value.0
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
    fn relationship_ids_are_two_guids_joined() {
        let id = RelationshipId::parse(
            "5D027261-d21f-4aa9-b7db-7fa1f56fb163-8777b240-c6f0-4469-9e98-a3205431b836",
        )
        .expect("valid");
        assert_eq!(
            id.as_str(),
            "5d027261-d21f-4aa9-b7db-7fa1f56fb163-8777b240-c6f0-4469-9e98-a3205431b836"
        );
        for bad in [
            "",
            "5d027261-d21f-4aa9-b7db-7fa1f56fb163",
            "5d027261-d21f-4aa9-b7db-7fa1f56fb163_8777b240-c6f0-4469-9e98-a3205431b836",
            "5d027261-d21f-4aa9-b7db-7fa1f56fb163-8777b240-c6f0-4469-9e98-a3205431b83/",
            "5d027261-d21f-4aa9-b7db-7fa1f56fb163-8777b240-c6f0-4469-9e98-a3205431b8%2",
            "../../../tenantRelationships/delegatedAdminCustomers?$top=1&x=aaaaaaaaaaaaaaa",
            "5d027261-d21f-4aa9-b7db-7fa1f56fb163-8777b240c6f044699e98a3205431b836xxxx",
            "5d027261-d21f-4aa9-b7db-7fa1f56fb163-8777b240-c6f0-4469-9e98-a3205431b83é",
            "5d027261-d21f-4aa9-b7db-7fa1f56fb163-8777b240-c6f0-4469-9e98-a3205431b836/accessAssignments",
        ] {
            assert!(RelationshipId::parse(bad).is_err(), "{bad} should be refused");
        }
        let bad: Result<RelationshipId, _> = serde_json::from_str("\"../x\"");
        assert!(bad.is_err());
    }

    #[test]
    fn deserialising_validates() {
        let ok: Result<Guid, _> = serde_json::from_str("\"53018d99-ac51-4ec8-b86e-c8a61de43717\"");
        assert!(ok.is_ok());
        let bad: Result<Guid, _> = serde_json::from_str("\"../x\"");
        assert!(bad.is_err());
    }
}
