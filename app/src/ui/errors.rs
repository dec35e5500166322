use crate::error::AppError;
use leptos::prelude::*;

/// Shows an error the way an admin can act on it: what happened, the correlation id to quote,
/// and a sign-in link when that is the fix.
#[component]
pub fn ErrorPanel(error: AppError, #[prop(into)] return_to: String) -> impl IntoView {
    let correlation = error.correlation_id().map(|id| {
        view! {
            <p class="correlation">"MS-CorrelationId: " <code>{id.to_string()}</code></p>
        }
    });
    let title = match &error {
        AppError::Unauthenticated => "Sign in to continue",
        AppError::SignInRequired { .. } => "Please sign in again",
        AppError::MfaRequired { .. } => "Sign in again with multi-factor authentication",
        AppError::SignInUnavailable { .. } => "The sign-in service is unavailable",
        AppError::SignInMisconfigured { .. } => "The dashboard's sign-in is misconfigured",
        AppError::Forbidden { .. } => "Not allowed",
        AppError::NotFound { .. } => "Not found",
        AppError::Throttled { .. } => "Partner Center is busy",
        _ => "Something went wrong",
    };
    let sign_in = error.needs_sign_in().then(|| {
        let href = format!(
            "/login?return_to={}",
            crate::urls::encode_component(&return_to)
        );
        view! {
            <p>
                <a class="button primary" href=href rel="external">
                    "Sign in with Microsoft"
                </a>
            </p>
        }
    });
    let message = match &error {
        AppError::Unauthenticated => {
            "The dashboard acts with your own Partner Center account. Sign in to see your customers."
                .to_string()
        }
        other => other.to_string(),
    };
    view! {
        <section class="panel error-panel" role="alert">
            <h2>{title}</h2>
            <p class="message">{message}</p>
            {correlation}
            {sign_in}
        </section>
    }
}
