//! Components and routes.

mod audit;
mod consent;
mod customer;
mod customers;
mod errors;
mod format;
mod gdap;
mod help;
mod jobs;
mod reports;
mod reviews;
pub(crate) mod signin;

use crate::api::session::current_session;
use crate::error::AppError;
use crate::model::access::{Permission, Permissions};
use crate::model::SessionInfo;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

pub use errors::ErrorPanel;

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::security::set_page_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The session as seen by every page; refetched after sign-in/sign-out navigations.
pub type SessionResource = Resource<Result<SessionInfo, AppError>>;

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let session: SessionResource = Resource::new(|| (), |_| current_session());
    provide_context(session);

    // Effects only run in the browser: this marks the page as hydrated (tests wait for it).
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <Title text="CSP partner dashboard" />
        <Router>
            <div id="app" data-hydrated=move || hydrated.get().to_string()>
                <a class="skip-link" href="#main">
                    "Skip to the content"
                </a>
                <Header />
                <main id="main" tabindex="-1">
                    <Routes fallback=|| view! { <NotFound /> }>
                        <Route path=path!("/") view=signin::HomePage ssr=SsrMode::Async />
                        <Route
                            path=path!("/customers")
                            view=customers::CustomersPage
                            ssr=SsrMode::Async
                        />
                        <Route
                            path=path!("/customers/:tenant_id")
                            view=customer::CustomerPage
                            ssr=SsrMode::Async
                        />
                        <Route path=path!("/reports") view=reports::ReportsPage ssr=SsrMode::Async />
                        <Route path=path!("/audit") view=audit::AuditPage ssr=SsrMode::Async />
                        <Route path=path!("/jobs") view=jobs::JobsPage ssr=SsrMode::Async />
                        <Route path=path!("/reviews") view=reviews::ReviewsPage ssr=SsrMode::Async />
                        <Route
                            path=path!("/reviews/:id")
                            view=reviews::ReviewPage
                            ssr=SsrMode::Async
                        />
                        <Route path=path!("/jobs/new") view=jobs::NewJobPage ssr=SsrMode::Async />
                        <Route path=path!("/jobs/:id") view=jobs::JobPage ssr=SsrMode::Async />
                        <Route
                            path=path!("/reports/:id")
                            view=reports::ReportPage
                            ssr=SsrMode::Async
                        />
                        <Route path=path!("/signin-error") view=signin::SignInErrorPage />
                        <Route path=path!("/help") view=help::HelpPage />
                    </Routes>
                </main>
            </div>
        </Router>
    }
}

#[component]
fn Header() -> impl IntoView {
    let session = expect_context::<SessionResource>();
    view! {
        <header class="topbar">
            <a class="brand" href="/customers">
                "CSP partner dashboard"
            </a>
            <nav aria-label="Main">
                <NavLink href="/customers" label="Customers" />
                <NavLink href="/reports" label="Reports" />
                <NavLink href="/reviews" label="Reviews" />
                <NavLink href="/jobs" label="Jobs" />
                <NavLink href="/audit" label="Audit" />
                <NavLink href="/help" label="Help" />
            </nav>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match session.await {
                        Ok(info) => view! { <SessionBadge info /> }.into_any(),
                        Err(error) => view! { <span class="error">{error.to_string()}</span> }.into_any(),
                    }
                })}
            </Suspense>
        </header>
    }
}

/// A navigation link marked `aria-current="page"` on its section's pages (`/jobs/…` too).
#[component]
fn NavLink(href: &'static str, label: &'static str) -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let current = move || {
        let path = location.pathname.get();
        (path == href || path.starts_with(&format!("{href}/"))).then_some("page")
    };
    view! {
        <a href=href aria-current=current>
            {label}
        </a>
    }
}

#[component]
fn SessionBadge(info: SessionInfo) -> impl IntoView {
    let demo = info.demo_mode.then(|| {
        view! {
            <span class="demo-badge" title="Data comes from the built-in Partner Center simulator">
                "Demo mode"
            </span>
        }
    });
    let read_only = info
        .user
        .as_ref()
        .filter(|user| !user.permissions.operate)
        .map(|_| {
            view! {
                <span
                    class="read-only-badge"
                    id="read-only"
                    title=Permissions::missing_reason(Permission::Operate)
                >
                    "Read only"
                </span>
            }
        });
    let user = match info.user {
        Some(user) => view! {
            <span class="user">
                <span class="user-name">{user.display_name}</span>
                <span class="user-upn">{user.upn}</span>
            </span>
            <form method="post" action="/logout" class="inline">
                <button type="submit" class="link-button">"Sign out"</button>
            </form>
        }
        .into_any(),
        None => view! { <a href="/login" rel="external" class="button">"Sign in"</a> }.into_any(),
    };
    view! { <div class="session">{demo} {read_only} {user}</div> }
}

/// The signed-in admin's permissions (none for a visitor), for a page that shows or hides its
/// actions while it renders.
pub async fn viewer_permissions(session: SessionResource) -> Permissions {
    session
        .await
        .ok()
        .and_then(|info| info.user)
        .map(|user| user.permissions)
        .unwrap_or_default()
}

/// A note in place of actions the admin may not take, naming the role they need.
#[component]
pub fn NotAllowed(permission: Permission) -> impl IntoView {
    view! {
        <p class="not-allowed" data-needs=permission.app_role()>
            {Permissions::missing_reason(permission)}
        </p>
    }
}

/// Shows `children` only when the signed-in admin holds `permission` (the header says once
/// what a read-only admin lacks). The server checks again on every call: this only spares the
/// admin a button that can only be refused.
#[component]
pub fn IfAllowed(permission: Permission, children: ChildrenFn) -> impl IntoView {
    let session = expect_context::<SessionResource>();
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let children = children.clone();
                Suspend::new(async move {
                    let allowed = session
                        .await
                        .ok()
                        .and_then(|info| info.user)
                        .is_some_and(|user| user.permissions.allows(permission));
                    allowed.then(|| children())
                })
            }}
        </Suspense>
    }
}

/// Reloads the page every two seconds when JavaScript is off (hydrated pages poll instead). The
/// content is raw HTML: with JavaScript on, a browser keeps `<noscript>` content as text, which
/// hydration must not walk.
/// A required tick box (`confirm`) stating what the form is about to do: the browser does not
/// send the form without it, with or without JavaScript, and the server refuses the action
/// without it too.
#[component]
pub fn Confirm(#[prop(into)] text: String, #[prop(optional)] unavailable: bool) -> impl IntoView {
    view! {
        <label class="confirm">
            <input type="checkbox" name="confirm" required disabled=unavailable />
            " "
            {text}
        </label>
    }
}

/// A form's submit button, disabled and marked busy while its action runs, so a second click
/// does not send the form again (the server refuses a repeated job start or decision anyway).
/// `unavailable` disables it for a reason of the page's own.
#[component]
pub fn Submit(
    #[prop(into)] pending: Signal<bool>,
    #[prop(into)] class: String,
    #[prop(optional)] unavailable: bool,
    children: Children,
) -> impl IntoView {
    view! {
        <button
            type="submit"
            class=class
            disabled=move || unavailable || pending.get()
            aria-busy=move || pending.get().then_some("true")
        >
            {children()}
        </button>
    }
}

#[component]
pub fn RefreshWithoutJavaScript() -> impl IntoView {
    view! { <noscript inner_html=r#"<meta http-equiv="refresh" content="2">"#></noscript> }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
            options.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <section class="panel">
            <h1>"Page not found"</h1>
            <p>
                "There is nothing at this address. " <a href="/customers">"Go to the customers"</a>
                "."
            </p>
        </section>
    }
}
