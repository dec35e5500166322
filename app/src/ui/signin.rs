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

/// Where a failed sign-in lands: the authority's refusal, a state mismatch, an expired grant...
#[component]
pub fn SignInErrorPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || query.read().get("error").unwrap_or_default();
    let description = move || query.read().get("description").unwrap_or_default();
    view! {
        <section class="panel error-panel" role="alert">
            <h1>"Sign-in did not complete"</h1>
            <p class="message">{description}</p>
            <p class="detail">"Code: " <code>{error}</code></p>
            <p>
                <a class="button primary" href="/login" rel="external">
                    "Try again"
                </a>
            </p>
        </section>
    }
}
