use super::{ErrorPanel, SessionResource};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn HomePage() -> impl IntoView {
    let session = expect_context::<SessionResource>();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(info) if info.user.is_some() => {
                        view! {
                            <section class="panel">
                                <h1>"Welcome back"</h1>
                                <p>
                                    <a class="button primary" href="/customers">
                                        "Open the customers"
                                    </a>
                                </p>
                            </section>
                        }
                            .into_any()
                    }
                    Ok(_) => {
                        view! {
                            <ErrorPanel error=AppError::Unauthenticated return_to="/customers" />
                        }
                            .into_any()
                    }
                    Err(error) => view! { <ErrorPanel error return_to="/" /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The dashboard's words for each sign-in failure it names. The page shows only these: a link
/// to `/signin-error` can carry any text, and a phishing link must not be able to put its own
/// message ("call this number...") on the dashboard's page.
fn sign_in_error_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "authority_unavailable" => "The sign-in service could not be reached. Try again in a minute.",
        "session_error" => "Your session could not be saved. Try again; if it keeps failing, tell the dashboard's operator.",
        "no_sign_in_in_progress" => "This sign-in was not started here, or it took too long. Start again.",
        "state_mismatch" => "The answer from the sign-in page does not belong to this sign-in. Start again.",
        "no_code" => "The sign-in page returned no authorization code.",
        "token_refused" => "The sign-in service refused to issue a token for this sign-in.",
        "token_request_failed" => "The sign-in service could not be asked for a token. Try again in a minute.",
        "no_id_token" => "The sign-in service returned no id token.",
        "invalid_id_token" => "The sign-in service returned an id token that does not verify.",
        "no_refresh_token" => "The sign-in service returned no refresh token (offline access was not granted).",
        "storage_error" => "Your sign-in could not be stored. Try again; if it keeps failing, tell the dashboard's operator.",
        "audit_failed" => "Your sign-in could not be recorded in the audit log, so it was not completed.",
        "foreign_tenant" => "This account belongs to another organisation. Only accounts of the partner's own tenant may use this dashboard: sign in with your partner account.",
        "no_dashboard_role" => crate::model::access::NO_ROLE_MESSAGE,
        "access_denied" => "The sign-in was declined or not allowed.",
        "consent_required" => "The dashboard's permissions have not been consented to in your tenant. Ask an administrator to grant consent.",
        "interaction_required" | "login_required" => "The sign-in service needs you to sign in interactively. Try again.",
        "temporarily_unavailable" | "server_error" => "The sign-in service had a temporary problem. Try again in a minute.",
        "authority_refused" => "The sign-in service refused the sign-in.",
        _ => return None,
    })
}

/// The authority's OAuth error codes the page has words for; any other becomes
/// `authority_refused`.
#[cfg(feature = "ssr")]
pub fn authority_error_code(error: &str) -> &'static str {
    [
        "access_denied",
        "consent_required",
        "interaction_required",
        "login_required",
        "temporarily_unavailable",
        "server_error",
    ]
    .into_iter()
    .find(|known| *known == error)
    .unwrap_or("authority_refused")
}

/// AADSTS codes an admin meets, with the dashboard's explanation; the code itself is shown so
/// it can be looked up.
const AADSTS: [(&str, &str); 10] = [
    (
        "AADSTS700082",
        "the refresh token expired after 90 days without use",
    ),
    (
        "AADSTS50173",
        "the grant was revoked (password change or admin action)",
    ),
    (
        "AADSTS50078",
        "multi-factor authentication has expired or is required",
    ),
    (
        "AADSTS50079",
        "multi-factor authentication has expired or is required",
    ),
    (
        "AADSTS65001",
        "consent for the Partner Center API is missing",
    ),
    (
        "AADSTS70043",
        "the sign-in frequency policy requires a new sign-in",
    ),
    ("AADSTS65004", "consent was declined"),
    (
        "AADSTS50011",
        "the redirect URL is not registered for this application",
    ),
    (
        "AADSTS700016",
        "the application is not registered in this tenant",
    ),
    ("AADSTS90002", "the tenant was not found"),
];

/// The first known AADSTS code in `text` (an authority's error description), if any.
#[cfg(feature = "ssr")]
pub fn known_aadsts(text: &str) -> Option<&'static str> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .find_map(|word| AADSTS.iter().find(|(code, _)| *code == word))
        .map(|(code, _)| *code)
}

fn aadsts_meaning(code: &str) -> Option<(&'static str, &'static str)> {
    AADSTS.iter().find(|(known, _)| *known == code).copied()
}

/// Where a failed sign-in lands: the authority's refusal, a state mismatch, a foreign tenant...
/// Only known codes are shown, each in the dashboard's own words.
#[component]
pub fn SignInErrorPage() -> impl IntoView {
    let query = use_query_map();
    let known = move || {
        query
            .read()
            .get("error")
            .and_then(|code| sign_in_error_message(&code).map(|text| (code, text)))
    };
    let message = move || {
        known()
            .map(|(_, text)| text)
            .unwrap_or("The sign-in did not complete. Start again.")
    };
    let code = move || known().map(|(code, _)| code);
    let aadsts = move || {
        query
            .read()
            .get("aadsts")
            .and_then(|code| aadsts_meaning(&code))
            .map(|(code, meaning)| format!("{code}: {meaning}"))
    };
    view! {
        <section class="panel error-panel" role="alert">
            <h1>"Sign-in did not complete"</h1>
            <p class="message">{message}</p>
            {move || aadsts().map(|text| view! { <p class="message">{text}</p> })}
            {move || code().map(|code| view! { <p class="detail">"Code: " <code>{code}</code></p> })}
            <p>
                <a class="button primary" href="/login" rel="external">
                    "Try again"
                </a>
            </p>
        </section>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn only_known_codes_have_words() {
        assert!(sign_in_error_message("foreign_tenant").is_some());
        assert!(sign_in_error_message("Call +1 555 0100 to unlock your account").is_none());
        assert_eq!(authority_error_code("access_denied"), "access_denied");
        assert_eq!(authority_error_code("<script>"), "authority_refused");
        assert_eq!(
            known_aadsts("AADSTS65004: User declined to consent"),
            Some("AADSTS65004")
        );
        assert_eq!(known_aadsts("AADSTS123456: made up"), None);
        assert_eq!(known_aadsts("nothing"), None);
    }
}
