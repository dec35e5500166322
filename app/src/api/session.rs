use crate::error::AppError;
use crate::model::SessionInfo;
use leptos::prelude::*;

/// Who is signed in (if anyone). Never fails for a visitor: the header renders either way.
#[server(prefix = "/api", endpoint = "current_session")]
pub async fn current_session() -> Result<SessionInfo, AppError> {
    use crate::ssr::{auth, respond, state::AppState};
    respond(
        async {
            let state = AppState::from_context()?;
            let session: tower_sessions::Session = leptos_axum::extract()
                .await
                .map_err(|e| AppError::Internal(format!("no session layer: {e}")))?;
            Ok(SessionInfo {
                user: auth::session_user(&session).await?.map(|u| u.public()),
                demo_mode: state.config.is_demo(),
            })
        }
        .await,
    )
}
