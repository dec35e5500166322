//! The wasm entry point: hydrates the islands of the server-rendered page. Everything else lives
//! in `app`, whose `#[island]` components this library exports.
#![cfg(target_arch = "wasm32")]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    app::hydrate_islands();
}
