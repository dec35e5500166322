//! Formatting shared by the pages. Computed from server data only, so the server's HTML and the
//! hydrated page agree.

/// "213 days ago", "today", "never".
pub fn relative_days(days: Option<i64>) -> String {
    match days {
        None => "never".into(),
        Some(d) if d <= 0 => "today".into(),
        Some(1) => "1 day ago".into(),
        Some(d) => format!("{d} days ago"),
    }
}

/// The date of an RFC 3339 timestamp ("2021-08-06"), or a dash.
pub fn date_part(timestamp: Option<&str>) -> String {
    timestamp
        .and_then(|t| t.get(..10))
        .map_or_else(|| "—".into(), str::to_string)
}

pub use crate::text::{count, thousands};
use leptos::prelude::*;

/// "2026-11-30 12:22 UTC": the one way pages write a moment, from the server's RFC 3339 (UTC).
pub fn utc_minute(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => rfc3339.to_string(),
    }
}

/// A moment as `<time>`: the minute in UTC; on hover the exact timestamp, which the hydrated
/// page turns into the browser's local time.
#[component]
pub fn When(#[prop(into)] at: String) -> impl IntoView {
    let text = utc_minute(&at);
    let title = RwSignal::new(at.clone());
    #[cfg(feature = "hydrate")]
    {
        let at = at.clone();
        Effect::new(move |_| title.set(local_time(&at)));
    }
    view! {
        <time datetime=at title=move || title.get()>
            {text}
        </time>
    }
}

/// A customer's name linking to its page; the tenant id beside it when another customer of the
/// same list has the same name, so the two can be told apart.
#[component]
pub fn CustomerLink(
    #[prop(into)] name: String,
    #[prop(into)] tenant_id: String,
    ambiguous: bool,
) -> impl IntoView {
    let id = ambiguous.then(|| view! { " " <code class="tenant-id">{tenant_id.clone()}</code> });
    view! {
        <a href=format!("/customers/{tenant_id}")>{name}</a>
        {id}
    }
}

/// The names that more than one customer of a list has.
pub fn repeated_names<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> std::collections::HashSet<String> {
    let mut seen = std::collections::HashSet::new();
    names
        .into_iter()
        .filter(|name| !seen.insert(*name))
        .map(str::to_string)
        .collect()
}

/// "30/11/2026, 13:22:09 (your local time)" in the browser's locale and zone, or the timestamp
/// as given when the browser cannot read it.
#[cfg(feature = "hydrate")]
pub(crate) fn local_time(rfc3339: &str) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(rfc3339));
    if date.get_time().is_nan() {
        return rfc3339.to_string();
    }
    let local: String = date
        .to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED)
        .into();
    format!("{local} (your local time)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(relative_days(None), "never");
        assert_eq!(relative_days(Some(0)), "today");
        assert_eq!(relative_days(Some(213)), "213 days ago");
        assert_eq!(
            date_part(Some("2021-08-06T21:15:04.3461507Z")),
            "2021-08-06"
        );
        assert_eq!(date_part(None), "—");
        assert_eq!(
            utc_minute("2026-11-30T12:22:09.694Z"),
            "2026-11-30 12:22 UTC"
        );
    }
}
