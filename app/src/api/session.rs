use crate::error::AppError;
use crate::model::SessionInfo;
use leptos::prelude::*;

/// Who is signed in (if anyone). Never fails for a visitor: the header renders either way.
#[server(prefix = "/api", endpoint = "current_session")]
pub async fn current_session() -> Result<SessionInfo, AppError> {
    use crate::ssr::{access, auth, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let session: tower_sessions::Session = leptos_axum::extract()
                .await
                .map_err(|e| AppError::Internal(format!("no session layer: {e}")))?;
            let user = match auth::session_user(&session).await? {
                Some(user) => Some(access::with_current_roles(&state, user).await?.public()),
                None => None,
            };
            Ok(SessionInfo {
                user,
                demo_mode: state.config.is_demo(),
            })
        }
        .await,
    )
}
