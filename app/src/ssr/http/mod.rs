//! Every axum handler that is not a page or a server function: the sign-in redirects and the
//! downloads. Each one checks who asks, calls its domain module and shapes the HTTP answer.

pub(crate) mod csv;
pub(crate) mod customers_csv;
pub(crate) mod downloads;
pub mod jobs;
pub mod sign_in;

use crate::ssr::state::AppState;
use axum::Router;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(sign_in::routes())
        .merge(customers_csv::routes())
        .merge(downloads::routes())
        .merge(jobs::routes())
}
