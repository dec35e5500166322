//! Who may do what: the one check every server function and download goes through. A refusal is
//! a 403 whose message names the app role to ask for, and it is audited.

use super::audit::{self, Entry};
use super::auth::{self, SessionUser};
use super::state::AppState;
use super::telemetry;
use crate::error::AppError;
use crate::model::access::{Permission, Permissions};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tower_sessions::Session;

/// The signed-in admin of the current server-function call, if they hold `permission`.
/// `action` names the attempt in the audit log when it is refused.
pub async fn require(
    permission: Permission,
    action: &'static str,
) -> Result<SessionUser, AppError> {
    let state = AppState::from_context()?;
    let user = auth::current_user().await?;
    telemetry::record_admin(None, &user.user_key);
    authorize(&state, user, permission, action).await
}

/// The admin with the roles of their latest verified id token: the session keeps the roles of
/// the sign-in, while each refresh that returns an id token re-reads them (an admin whose role
/// was removed in Entra loses it here at the next refresh, not at the session's end).
pub async fn with_current_roles(
    state: &AppState,
    mut user: SessionUser,
) -> Result<SessionUser, AppError> {
    let read = || state.tokens.current_app_roles(&user.user_key);
    let roles = match leptos::prelude::use_context::<RolesOfRequest>() {
        Some(memo) => memo.get_or_read(&user.user_key, read).await?,
        None => read().await?,
    };
    if let Some(roles) = roles {
        user.app_roles = roles;
    }
    Ok(user)
}

/// The admin's app roles as one request read them. A page's server functions each check access
/// while it renders (three reads for `/customers`), and one answer is rendered against one set of
/// roles. Provided per page render; where it is absent, each check reads the roles itself.
#[derive(Clone, Default)]
pub struct RolesOfRequest(Arc<tokio::sync::OnceCell<(String, Option<Vec<String>>)>>);

impl RolesOfRequest {
    /// The roles read for `user_key` earlier in this request, or read now by `read`.
    async fn get_or_read<F, Fut>(
        &self,
        user_key: &str,
        read: F,
    ) -> Result<Option<Vec<String>>, AppError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<Vec<String>>, AppError>>,
    {
        let (read_for, roles) = self
            .0
            .get_or_try_init(|| async { Ok::<_, AppError>((user_key.to_string(), read().await?)) })
            .await?;
        if read_for == user_key {
            Ok(roles.clone())
        } else {
            // Another admin within one request (a sign-in that completed under way): never
            // answer with someone else's roles.
            read().await
        }
    }
}

/// The check itself, for callers that already hold the session's admin.
pub async fn authorize(
    state: &AppState,
    user: SessionUser,
    permission: Permission,
    action: &'static str,
) -> Result<SessionUser, AppError> {
    let user = with_current_roles(state, user).await?;
    if user.permissions().allows(permission) {
        return Ok(user);
    }
    let reason = Permissions::missing_reason(permission);
    tracing::info!(
        action,
        permission = permission.app_role(),
        "refused: the admin lacks the dashboard role"
    );
    let entry = Entry::new(&user.upn, action)
        .target(format!("needs {}", permission.app_role()))
        .refused(reason.clone());
    audit::record(&state.storage, &entry).await?;
    Err(AppError::Forbidden {
        message: reason,
        correlation_id: None,
    })
}

/// A download handler's admin, who may read. Use as an extractor: `Reader(user): Reader`.
pub struct Reader(pub SessionUser);

/// Downloads answer in plain text, like the CSV endpoints' other errors.
pub struct Refusal(AppError);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        super::http::csv::error_response(&self.0)
    }
}

impl FromRequestParts<AppState> for Reader {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refusal> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, message)| Refusal(AppError::Internal(message.to_string())))?;
        let user = auth::session_user(&session)
            .await
            .map_err(Refusal)?
            .ok_or(Refusal(AppError::Unauthenticated))?;
        telemetry::record_admin(Some(&parts.extensions), &user.user_key);
        let action = download_action(parts.uri.path());
        authorize(state, user, Permission::Read, action)
            .await
            .map(Reader)
            .map_err(Refusal)
    }
}

/// The audit name of a refused download, from its path.
fn download_action(path: &str) -> &'static str {
    let section = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match section {
        "customers" => "export-customers",
        "audit" => "export-audit",
        "jobs" => "export-job",
        "reports" => "export-report",
        "reviews" => "export-review",
        _ => "download",
    }
}

#[cfg(test)]
mod tests {
    use super::{download_action, RolesOfRequest};
    use crate::error::AppError;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_request_reads_its_admins_roles_once() {
        let reads = AtomicUsize::new(0);
        let read = |roles: &'static str| {
            let reads = &reads;
            move || async move {
                reads.fetch_add(1, Ordering::SeqCst);
                Ok::<_, AppError>(Some(vec![roles.to_string()]))
            }
        };
        let memo = RolesOfRequest::default();
        let checks = futures::future::join3(
            memo.get_or_read("avery", read("Dashboard.Operate")),
            memo.get_or_read("avery", read("Dashboard.Operate")),
            memo.get_or_read("avery", read("Dashboard.Operate")),
        )
        .await;
        for roles in [checks.0, checks.1, checks.2] {
            assert_eq!(
                roles.ok().flatten(),
                Some(vec!["Dashboard.Operate".to_string()])
            );
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1, "three checks, one read");

        let other = memo.get_or_read("blake", read("Dashboard.Read")).await;
        assert_eq!(
            other.ok().flatten(),
            Some(vec!["Dashboard.Read".to_string()]),
            "another admin gets their own roles, not the memo's"
        );
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn downloads_are_named_by_section() {
        assert_eq!(download_action("/customers/export.csv"), "export-customers");
        assert_eq!(download_action("/jobs/abc.json"), "export-job");
        assert_eq!(download_action("/elsewhere"), "download");
    }
}
