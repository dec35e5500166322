//! `/login`, `/auth/callback` and `/logout`, and the absolute session lifetime: redirects around
//! the sign-in flow of `ssr::auth`.

use crate::ssr::auth::{self, CallbackParams, SignInFailure};
use crate::ssr::state::AppState;
use axum::extract::{Query, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/logout", post(logout))
}

#[derive(Deserialize)]
struct LoginParams {
    login_hint: Option<String>,
    return_to: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<LoginParams>,
) -> Response {
    let started = auth::begin_sign_in(
        &state,
        &session,
        params.login_hint.as_deref(),
        params.return_to.as_deref(),
    )
    .await;
    match started {
        Ok(authority) => Redirect::to(authority.as_str()).into_response(),
        Err(failure) => sign_in_failed(failure),
    }
}

async fn callback(
    State(state): State<AppState>,
    session: Session,
    Query(params): Query<CallbackParams>,
) -> Response {
    match auth::finish_sign_in(&state, &session, params).await {
        Ok(return_to) => Redirect::to(&return_to).into_response(),
        Err(failure) => sign_in_failed(failure),
    }
}

async fn logout(State(state): State<AppState>, session: Session) -> Response {
    auth::sign_out(&state, &session).await;
    Redirect::to("/").into_response()
}

/// Where a failed sign-in lands: the error page, told only the dashboard's own code.
fn sign_in_failed(failure: SignInFailure) -> Response {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("error", failure.error);
    if let Some(code) = failure.aadsts {
        query.append_pair("aadsts", code);
    }
    Redirect::to(&format!("/signin-error?{}", query.finish())).into_response()
}

/// Ends a session older than the absolute lifetime before any handler sees it, so pages,
/// server functions and downloads all find it signed out. Static files are skipped (no
/// session lookup for each asset).
pub async fn enforce_session_lifetime(
    State(state): State<AppState>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if !(path.starts_with("/pkg/") || path.starts_with("/_sim/") || path == "/healthz") {
        auth::end_if_expired(&state, &session).await;
    }
    next.run(request).await
}
