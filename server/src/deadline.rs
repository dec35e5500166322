//! A page render has a deadline (`DASHBOARD_RENDER_DEADLINE_SECS`), so a render that waits for
//! good (as one did, inside leptos: see `route_list`) can never hold a connection silently.
//!
//! - No response head within the deadline: the render is dropped and the browser gets a 503
//!   naming a reference; the log line with that reference names the method, the path and that
//!   the render stalled before its first byte.
//! - A streamed page (its head already sent) whose renderer then produces nothing for the
//!   deadline: the body ends there with an error, so the client sees a broken page at once instead
//!   of waiting, and the log names the reference, the path and the bytes sent so far. The
//!   deadline counts only time spent waiting for the renderer, never a slow client.

use app::ssr::config::ConfigError;
use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::time::Duration;

pub const RENDER_DEADLINE_VARIABLE: &str = "DASHBOARD_RENDER_DEADLINE_SECS";
pub const DEFAULT_RENDER_DEADLINE_SECS: u64 = 30;
pub const MAX_RENDER_DEADLINE_SECS: u64 = 3600;

/// How long a page render may take before its first byte, and between two of its chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderDeadline(pub Duration);

impl Default for RenderDeadline {
    fn default() -> Self {
        RenderDeadline(Duration::from_secs(DEFAULT_RENDER_DEADLINE_SECS))
    }
}

impl RenderDeadline {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// `lookup` returns a variable's value; an empty value counts as unset (as in `Config`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let Some(value) = lookup(RENDER_DEADLINE_VARIABLE).filter(|v| !v.trim().is_empty()) else {
            return Ok(Self::default());
        };
        match value.trim().parse::<u64>() {
            Ok(secs) if (1..=MAX_RENDER_DEADLINE_SECS).contains(&secs) => {
                Ok(RenderDeadline(Duration::from_secs(secs)))
            }
            _ => Err(ConfigError {
                variable: RENDER_DEADLINE_VARIABLE,
                problem: format!(
                    "'{value}' must be a whole number of seconds from 1 to {MAX_RENDER_DEADLINE_SECS}"
                ),
            }),
        }
    }
}

/// Middleware on the page routes (and the fallback that renders the 404 page).
pub async fn render_deadline(
    State(deadline): State<RenderDeadline>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    match tokio::time::timeout(deadline.0, next.run(request)).await {
        Ok(response) => {
            // A body of known size is already complete (an Async page, a file): nothing to
            // wait for.
            if response.body().size_hint().exact().is_some() {
                return response;
            }
            let (parts, body) = response.into_parts();
            Response::from_parts(parts, with_idle_deadline(body, deadline, method, path))
        }
        Err(_) => {
            let reference = app::ssr::error_reference();
            tracing::error!(
                reference,
                %method,
                path,
                deadline_secs = deadline.0.as_secs(),
                "page render stalled: no response head within the render deadline; the render \
                 was dropped and the browser told 503"
            );
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CACHE_CONTROL, "no-store")],
                format!(
                    "The page did not render in time (reference {reference}). Try again in a \
                     moment; the operator finds the detail in the log under that reference.\n"
                ),
            )
                .into_response()
        }
    }
}

/// `body`, ended with an error when its renderer has been asked for the next chunk and produced
/// nothing for the deadline.
fn with_idle_deadline(body: Body, deadline: RenderDeadline, method: Method, path: String) -> Body {
    struct Streaming {
        chunks: axum::body::BodyDataStream,
        sent: usize,
        ended: bool,
        method: Method,
        path: String,
    }
    let state = Streaming {
        chunks: body.into_data_stream(),
        sent: 0,
        ended: false,
        method,
        path,
    };
    Body::from_stream(futures::stream::unfold(state, move |mut s| async move {
        if s.ended {
            return None;
        }
        // The clock starts when the next chunk is asked for: time the client takes to read
        // does not count.
        match tokio::time::timeout(deadline.0, s.chunks.next()).await {
            Ok(Some(Ok(chunk))) => {
                s.sent += chunk.len();
                Some((Ok(chunk), s))
            }
            Ok(Some(Err(error))) => {
                s.ended = true;
                Some((Err(error), s))
            }
            Ok(None) => None,
            Err(_) => {
                let reference = app::ssr::error_reference();
                tracing::error!(
                    reference,
                    method = %s.method,
                    path = s.path,
                    bytes_sent = s.sent,
                    deadline_secs = deadline.0.as_secs(),
                    "page render stalled while streaming: nothing more within the render \
                     deadline; the response was cut off"
                );
                s.ended = true;
                Some((
                    Err(axum::Error::new(std::io::Error::other(format!(
                        "page render stalled (reference {reference})"
                    )))),
                    s,
                ))
            }
        }
    }))
}
