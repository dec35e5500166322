//! The wasm entry point: hydrates the server-rendered page. Everything else lives in `app`.
#![cfg(target_arch = "wasm32")]
// The app's views are nested types whose layout is computed here, where `hydrate_body`
// instantiates them: past the default depth of 128 for the audit page.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
