//! Data that crosses the wire between server functions and components. No tokens here, ever.

pub mod access;
pub mod audit;
pub mod consent;
pub mod customers;
pub mod directory;
pub mod gdap;
pub mod jobs;
pub mod reports;
pub mod reviews;

use serde::{Deserialize, Serialize};

/// The signed-in partner admin, as shown in the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedInUser {
    pub display_name: String,
    pub upn: String,
    /// What the pages offer this admin; the server checks again on every call.
    pub permissions: access::Permissions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub user: Option<SignedInUser>,
    /// True when the dashboard talks to the built-in simulator instead of Microsoft.
    pub demo_mode: bool,
}
