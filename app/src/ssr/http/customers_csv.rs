//! `GET /customers/export.csv?<the view's query>`: exactly the filtered and sorted view (all pages),
//! RFC 4180, streamed in chunks so a large export never sits in memory as one string.

use super::csv::{csv_response, encode, error_response};
use crate::error::AppError;
use crate::model::customers::CustomerQuery;
use crate::ssr::access::Reader;
use crate::ssr::auth::SessionUser;
use crate::ssr::clock::{days_since, format_time};
use crate::ssr::customers::snapshot::Snapshot;
use crate::ssr::customers::view::select;
use crate::ssr::customers::CustomerRecord;
use crate::ssr::state::AppState;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use time::OffsetDateTime;

const ROWS_PER_CHUNK: usize = 500;

pub const HEADER: [&str; 13] = [
    "Organisation",
    "Customer tenant id",
    "DAP",
    "DAP since",
    "DAP ended",
    "Last partner sign-in",
    "Days since partner sign-in",
    "Partner agents (last day)",
    "Partner sign-ins (last day)",
    "Global Admin sign-ins (last day)",
    "GDAP coverage",
    "GDAP reasons",
    "CPV consents (applications the dashboard granted)",
];

pub fn routes() -> Router<AppState> {
    Router::new().route("/customers/export.csv", get(export_csv))
}

async fn export_csv(
    State(state): State<AppState>,
    Reader(user): Reader,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    export(&state, &user, &pairs)
        .await
        .unwrap_or_else(|error| error_response(&error))
}

async fn export(
    state: &AppState,
    user: &SessionUser,
    pairs: &[(String, String)],
) -> Result<Response, AppError> {
    let query = CustomerQuery::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let snapshot = state.customers.current_or_sync(state, user).await?;
    let now = OffsetDateTime::now_utc();
    let filename = format!(
        "customers-{:04}{:02}{:02}.csv",
        now.year(),
        u8::from(now.month()),
        now.day()
    );
    let order: Vec<usize> = select(&snapshot, &query, now)
        .iter()
        .map(|s| s.index)
        .collect();
    let consents = crate::ssr::consent::consents_per_customer(state).await?;
    let chunks = csv_chunks(snapshot, order, consents, now);
    Ok(csv_response(&filename, Body::from_stream(chunks)))
}

/// The header, then `ROWS_PER_CHUNK` rows per chunk, produced as the body is read.
fn csv_chunks(
    snapshot: Arc<Snapshot>,
    order: Vec<usize>,
    consents: std::collections::HashMap<String, u32>,
    now: OffsetDateTime,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    let header = futures::stream::once(async { encode(std::iter::once(HEADER.map(String::from))) });
    let chunk_count = order.len().div_ceil(ROWS_PER_CHUNK);
    let order = Arc::new(order);
    let rows = futures::StreamExt::map(futures::stream::iter(0..chunk_count), move |chunk| {
        let start = chunk * ROWS_PER_CHUNK;
        let end = (start + ROWS_PER_CHUNK).min(order.len());
        encode(order[start..end].iter().map(|&i| {
            let customer = &snapshot.customers[i];
            let days = days_since(customer.last_sign_in, now);
            let consented = consents
                .get(&customer.tenant_id)
                .copied()
                .unwrap_or_default();
            record(customer, days, consented)
        }))
    });
    futures::StreamExt::chain(header, rows)
}

pub fn record(
    customer: &CustomerRecord,
    days_since_sign_in: Option<i64>,
    consented_applications: u32,
) -> [String; 13] {
    let time = |t: Option<OffsetDateTime>| t.map(format_time).unwrap_or_default();
    [
        customer.name.clone(),
        customer.tenant_id.clone(),
        if customer.dap_enabled { "on" } else { "off" }.to_string(),
        time(customer.dap_since),
        time(customer.dap_ended),
        time(customer.last_sign_in),
        days_since_sign_in
            .map(|d| d.to_string())
            .unwrap_or_default(),
        customer.partner_agent_count.to_string(),
        customer.partner_sign_in_count.to_string(),
        customer.global_admin_sign_in_count.to_string(),
        customer.gdap.as_str().to_string(),
        customer.gdap_reasons.replace('\n', " "),
        consented_applications.to_string(),
    ]
}
