//! The CSP partner dashboard: Leptos components and server functions, and, behind the `ssr`
//! feature, the server-side domain code they call.

// Leptos views are nested types; the wasm release build computes their layout past the default
// depth of 128 for the audit page.
#![recursion_limit = "256"]

pub mod api;
pub mod error;
pub mod ids;
pub mod model;
pub mod text;
pub mod ui;
pub mod urls;

#[cfg(feature = "ssr")]
pub mod ssr;

pub use ui::{shell, App};

/// The browser's entry point: hydrates the islands of the server-rendered page. A server
/// function's redirect (to a new job, review or report) is a page load.
#[cfg(feature = "hydrate")]
pub fn hydrate_islands() {
    _ = leptos::server_fn::redirect::set_redirect_hook(|location: &str| {
        _ = leptos::prelude::window().location().set_href(location);
    });
    leptos::mount::hydrate_islands();
}
