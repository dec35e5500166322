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
                <HydrationScripts options islands=true />
                <script nonce=leptos::nonce::use_nonce()>{HOLD_UNTIL_HYDRATED}</script>
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// With JavaScript on, a form of a [`PostForm`] island sent before the islands are hydrated (a
/// quick click after a page load) is held, and sent by the island once hydrated
/// ([`browser::mark_hydrated`]); so are changes to the customers filter ([`customers`]). Without
/// it the browser would post the form itself, as it does with JavaScript off, and the page would
/// not show the answer the island shows. With JavaScript off this script does not run.
///
/// It also takes the words of a notice out of the address once the server has shown the notice
/// (`?granted=…`, `?removed_user=…`: see `PostForm`'s `then`), so a reload does not repeat it.
const HOLD_UNTIL_HYDRATED: &str = r#"(() => {
  const w = window;
  const query = new URLSearchParams(location.search);
  const notice = ["granted", "revoked", "added_user", "added_role", "removed_user", "removed_role"];
  if (notice.some((key) => query.has(key))) {
    notice.forEach((key) => query.delete(key));
    const rest = query.toString();
    history.replaceState(history.state, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  }
  w.dashboardChanged = [];
  document.addEventListener("submit", (e) => {
    if (!w.dashboardReady && e.target.matches("form[data-post-form]")) {
      e.preventDefault();
      w.dashboardHeld = [e.target, e.submitter];
    }
  }, true);
  const changed = (e) => {
    if (!w.dashboardReady && e.target.form && e.target.form.matches("form[data-filter]")) {
      w.dashboardChanged.push(e.target.name);
    }
  };
  document.addEventListener("change", changed, true);
  document.addEventListener("input", changed, true);
})();"#;

/// The session as seen by every page; refetched after sign-in/sign-out navigations.
pub type SessionResource = Resource<Result<SessionInfo, AppError>>;

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let session: SessionResource = Resource::new(|| (), |_| current_session());
    provide_context(session);

    view! {
        <Title text="CSP partner dashboard" />
        <Router>
            <div id="app" data-hydrated="false">
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
                // Last in the page, so the islands before it are hydrated when it says so.
                <Hydrated />
            </div>
        </Router>
    }
}

/// Islands mode: only the `#[island]` components are compiled to wasm and hydrated; every other
/// component renders on the server alone, and links and GET forms load whole pages.
///
/// The last island of the page: marks `#app` as hydrated (tests wait for it) and gives every
/// `<time>` the browser's local time as its hover text.
#[island]
fn Hydrated() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| browser::mark_hydrated());
}

/// A form posted to a server function (`action`, `/api/…`). Without JavaScript it is a plain
/// form post (the server answers with the page again). Hydrated, the island posts it itself: the
/// submit buttons are disabled and marked busy meanwhile (a second click sends nothing), an
/// error is shown beside the form, and on success the page is loaded again, or the page the
/// server names (a new job, review or report), or `then` with each `{field}` replaced by the
/// form's value of that field. Its fields are the children, rendered on the server alone.
#[island]
pub fn PostForm(
    #[prop(into)] action: String,
    #[prop(optional, into)] class: Option<String>,
    #[prop(optional, into)] id: Option<String>,
    #[prop(optional, into)] then: Option<String>,
    children: Children,
) -> impl IntoView {
    let error = RwSignal::new(None::<AppError>);
    #[cfg(feature = "hydrate")]
    let on_submit = {
        let action = action.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            browser::submit(&ev, action.clone(), then.clone(), error);
        }
    };
    #[cfg(not(feature = "hydrate"))]
    let on_submit = {
        let _ = then;
        |_: leptos::ev::SubmitEvent| {}
    };
    view! {
        <form method="post" action=action class=class id=id data-post-form="" on:submit=on_submit>
            {children()}
        </form>
        {move || {
            error
                .get()
                .map(|error| {
                    #[cfg(feature = "hydrate")]
                    let return_to = browser::here();
                    #[cfg(not(feature = "hydrate"))]
                    let return_to = String::new();
                    view! { <ErrorPanel error return_to /> }
                })
        }}
    }
}

/// While something runs on the server (a sync, a job, a report): asks the server function
/// `endpoint` (`/api/…`, with the form-encoded `args`) every second, and loads the page again
/// as soon as its answer differs from the one the page shows (`seen`, its [`fingerprint`]).
/// Without JavaScript the page refreshes itself instead ([`RefreshWithoutJavaScript`]).
#[island]
pub fn Follow(#[prop(into)] endpoint: String, args: String, seen: String) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(browser::follow(endpoint, args, seen));
    #[cfg(not(feature = "hydrate"))]
    let _ = (endpoint, args, seen);
}

/// Shows its children for `seconds`, then hides them (an Undo offered for a while). Without
/// JavaScript they stay.
#[island]
pub fn Expires(seconds: u64, children: Children) -> impl IntoView {
    let shown = RwSignal::new(true);
    #[cfg(feature = "hydrate")]
    set_timeout(
        move || shown.set(false),
        std::time::Duration::from_secs(seconds),
    );
    #[cfg(not(feature = "hydrate"))]
    let _ = seconds;
    view! { <div hidden=move || !shown.get()>{children()}</div> }
}

/// A short fingerprint (FNV-1a, 64 bits) of a server function's JSON answer: the page carries the
/// one of what it shows, [`Follow`] compares it with the latest answer.
pub fn fingerprint(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// The [`fingerprint`] of `value` as its server function answers it (JSON).
pub fn fingerprint_of<T: serde::Serialize>(value: &T) -> String {
    fingerprint(&serde_json::to_string(value).unwrap_or_default())
}

/// What the islands do in the browser, with the DOM and fetch.
#[cfg(feature = "hydrate")]
pub(crate) mod browser {
    use super::AppError;
    use leptos::prelude::{window, RwSignal, Set};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    /// `#app[data-hydrated="true"]`, and local times on the hover text of every `<time>`.
    pub fn mark_hydrated() {
        let document = leptos::prelude::document();
        if let Ok(times) = document.query_selector_all("time[datetime]") {
            for time in elements(&times) {
                if let Some(at) = time.get_attribute("datetime") {
                    _ = time.set_attribute("title", &super::format::local_time(&at));
                }
            }
        }
        _ = js_sys::Reflect::set(&window(), &"dashboardReady".into(), &JsValue::TRUE);
        send_held();
        if let Some(app) = document.get_element_by_id("app") {
            _ = app.set_attribute("data-hydrated", "true");
        }
    }

    /// Sends the form held before the islands were hydrated (see `HOLD_UNTIL_HYDRATED`).
    fn send_held() {
        let Ok(held) = js_sys::Reflect::get(&window(), &"dashboardHeld".into()) else {
            return;
        };
        let Ok(held) = held.dyn_into::<js_sys::Array>() else {
            return;
        };
        let Ok(form) = held.get(0).dyn_into::<web_sys::HtmlFormElement>() else {
            return;
        };
        _ = match held.get(1).dyn_into::<web_sys::HtmlElement>() {
            Ok(submitter) => form.request_submit_with_submitter(Some(&submitter)),
            Err(_) => form.request_submit(),
        };
    }

    /// The values of a form's fields `names` (those it has).
    pub fn form_fields(
        form: &web_sys::HtmlFormElement,
        names: &[&'static str],
    ) -> Vec<(&'static str, String)> {
        let Ok(data) = web_sys::FormData::new_with_form(form) else {
            return Vec::new();
        };
        names
            .iter()
            .filter_map(|name| data.get(name).as_string().map(|value| (*name, value)))
            .collect()
    }

    /// The names of the customers filter's fields changed before the islands were hydrated.
    pub fn changed_before() -> Vec<String> {
        js_sys::Reflect::get(&window(), &"dashboardChanged".into())
            .ok()
            .and_then(|list| list.dyn_into::<js_sys::Array>().ok())
            .map(|list| list.iter().filter_map(|name| name.as_string()).collect())
            .unwrap_or_default()
    }

    fn elements(list: &web_sys::NodeList) -> Vec<web_sys::Element> {
        (0..list.length())
            .filter_map(|i| list.item(i))
            .filter_map(|node| node.dyn_into::<web_sys::Element>().ok())
            .collect()
    }

    /// Loads the page again.
    pub fn reload() {
        _ = window().location().reload();
    }

    /// Goes to `href`.
    pub fn go(href: &str) {
        _ = window().location().set_href(href);
    }

    /// Goes to `href` in place of the current page in the history.
    pub fn replace(href: &str) {
        _ = window().location().replace(href);
    }

    /// The current page's path and query.
    pub fn here() -> String {
        let location = window().location();
        format!(
            "{}{}",
            location.pathname().unwrap_or_default(),
            location.search().unwrap_or_default()
        )
    }

    /// A server function's answer.
    struct Answer {
        status: u16,
        location: Option<String>,
        text: String,
    }

    /// Posts `body` to a server function as its client does (JSON answer, no redirect).
    async fn post(url: &str, body: &web_sys::UrlSearchParams) -> Result<Answer, JsValue> {
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(body);
        let headers = web_sys::Headers::new()?;
        headers.set("Accept", "application/json")?;
        init.set_headers(&headers);
        let response: web_sys::Response =
            JsFuture::from(window().fetch_with_str_and_init(url, &init))
                .await?
                .dyn_into()?;
        let location = response.headers().get("location").ok().flatten();
        let text = JsFuture::from(response.text()?)
            .await?
            .as_string()
            .unwrap_or_default();
        Ok(Answer {
            status: response.status(),
            location,
            text,
        })
    }

    /// `template` with each `{field}` replaced by the form's value of that field.
    fn fill(template: &str, fields: &web_sys::UrlSearchParams) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find('{') {
            let Some(len) = rest[start..].find('}') else {
                break;
            };
            out.push_str(&rest[..start]);
            let value = fields
                .get(&rest[start + 1..start + len])
                .unwrap_or_default();
            out.push_str(&crate::urls::encode_component(&value));
            rest = &rest[start + len + 1..];
        }
        out.push_str(rest);
        out
    }

    /// Disables the form's enabled submit buttons and marks them busy; returns them.
    fn busy(form: &web_sys::HtmlFormElement) -> Vec<web_sys::Element> {
        let buttons = form
            .query_selector_all("button[type=submit]:not([disabled])")
            .map(|list| elements(&list))
            .unwrap_or_default();
        for button in &buttons {
            _ = button.set_attribute("disabled", "");
            _ = button.set_attribute("aria-busy", "true");
        }
        buttons
    }

    fn idle(buttons: &[web_sys::Element]) {
        for button in buttons {
            _ = button.remove_attribute("disabled");
            _ = button.remove_attribute("aria-busy");
        }
    }

    /// Posts the submitted form to `action`; see [`super::PostForm`].
    pub fn submit(
        ev: &web_sys::SubmitEvent,
        action: String,
        then: Option<String>,
        error: RwSignal<Option<AppError>>,
    ) {
        let Some(form) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
        else {
            return;
        };
        let fields = web_sys::FormData::new_with_form(&form)
            .and_then(|data| web_sys::UrlSearchParams::new_with_str_sequence_sequence(&data));
        let Ok(fields) = fields else {
            return;
        };
        let next = then.map(|template| fill(&template, &fields));
        let buttons = busy(&form);
        error.set(None);
        leptos::task::spawn_local(async move {
            let failure = match post(&action, &fields).await {
                Ok(answer) if (200..300).contains(&answer.status) => {
                    match answer.location.or(next) {
                        Some(href) => go(&href),
                        None => reload(),
                    }
                    return;
                }
                Ok(answer) => {
                    serde_json::from_str(&answer.text).unwrap_or(AppError::Transport(answer.text))
                }
                Err(_) => AppError::Transport("the dashboard could not be reached".into()),
            };
            idle(&buttons);
            error.set(Some(failure));
        });
    }

    async fn sleep(ms: i32) {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        });
        _ = JsFuture::from(promise).await;
    }

    /// See [`super::Follow`].
    pub async fn follow(endpoint: String, args: String, seen: String) {
        loop {
            sleep(1000).await;
            let Ok(fields) = web_sys::UrlSearchParams::new_with_str(&args) else {
                return;
            };
            if let Ok(answer) = post(&endpoint, &fields).await {
                if answer.status == 200 && super::fingerprint(&answer.text) != seen {
                    reload();
                    return;
                }
            }
        }
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

/// A form's submit button. Hydrated, [`PostForm`] disables it and marks it busy while the form
/// is sent, so a second click does not send the form again (the server refuses a repeated job
/// start or decision anyway). `unavailable` disables it for a reason of the page's own.
#[component]
pub fn Submit(
    #[prop(into)] class: String,
    #[prop(optional)] unavailable: bool,
    children: Children,
) -> impl IntoView {
    view! {
        <button type="submit" class=class disabled=unavailable>
            {children()}
        </button>
    }
}

/// Reloads the page every two seconds when JavaScript is off (hydrated pages follow what runs
/// with [`Follow`] instead). The content is raw HTML: a browser with JavaScript on keeps
/// `<noscript>` content as text.
#[component]
pub fn RefreshWithoutJavaScript() -> impl IntoView {
    view! { <noscript inner_html=r#"<meta http-equiv="refresh" content="2">"#></noscript> }
}

/// Keeps a page about something running on the server current: [`Follow`] with JavaScript,
/// [`RefreshWithoutJavaScript`] without.
#[component]
pub fn WhileRunning(
    endpoint: &'static str,
    #[prop(into)] args: String,
    seen: String,
) -> impl IntoView {
    view! {
        <RefreshWithoutJavaScript />
        <Follow endpoint args seen />
    }
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
