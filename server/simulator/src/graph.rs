//! Microsoft Graph `tenantRelationships` (v1.0), the GDAP part the dashboard reads:
//! `delegatedAdminRelationships` (list with `$filter` on `customer/tenantId` and `status`,
//! `$top` at most 300, `$skipToken` paging with `@odata.nextLink`; one relationship; its
//! `accessAssignments`) and `delegatedAdminCustomers`.
//!
//! A caller who is not in the partner's Admin Agents group gets `200` with an empty `value`, as
//! Graph answers (the empty-list trap of the reference).

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use parking_lot::MappedMutexGuard;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::GRAPH_AUDIENCE;
use crate::errors::{ApiError, Host};
use crate::gdap::{GdapWorld, Relationship};
use crate::partner::PartnerUser;
use crate::store::Store;
use crate::Simulator;

/// Every Graph path of the simulator starts with this.
pub(crate) const GRAPH_PREFIX: &str = "/_sim/graph/";
/// `$top` when absent (the documentation is silent; Graph lists commonly page by 100).
const DEFAULT_TOP: usize = 100;
/// The documented maximum of `$top`.
const MAX_TOP: usize = 300;

impl Simulator {
    /// The GDAP world, generated from the seed on first use. Callers hold the store lock
    /// (always taken before this one).
    pub(crate) fn gdap<'a>(&'a self, store: &Store) -> MappedMutexGuard<'a, GdapWorld> {
        parking_lot::MutexGuard::map(self.inner.gdap.lock(), |world| {
            world.get_or_insert_with(|| {
                GdapWorld::generate(
                    self.inner.config.seed,
                    store.customers(),
                    OffsetDateTime::now_utc(),
                )
            })
        })
    }

    fn graph_caller(&self, headers: &HeaderMap) -> Result<&'static PartnerUser, ApiError> {
        self.authenticate(headers, GRAPH_AUDIENCE, Host::Graph)
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message).on(Host::Graph)
}

/// One `$filter` clause (`and` joins them).
#[derive(Debug, PartialEq)]
enum Clause {
    TenantId(Uuid),
    Status(String),
}

/// The query options of a Graph list.
#[derive(Debug)]
struct ListQuery {
    top: usize,
    offset: usize,
    filter: Vec<Clause>,
    select: Option<Vec<String>>,
    count: bool,
    /// The options to repeat in the next link (all but `$skipToken`).
    carried: Vec<(String, String)>,
}

impl ListQuery {
    /// `filterable` names the properties `$filter` accepts on this list.
    fn parse(raw: Option<&str>, filterable: &[&str]) -> Result<Self, ApiError> {
        let mut query = ListQuery {
            top: DEFAULT_TOP,
            offset: 0,
            filter: Vec::new(),
            select: None,
            count: false,
            carried: Vec::new(),
        };
        for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let option = name.to_ascii_lowercase();
            match option.as_str() {
                "$top" => {
                    query.top = value
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_TOP).contains(n))
                        .ok_or_else(|| {
                            bad_request(format!(
                                "Invalid page size specified: '{value}'. Must be between 1 and \
                                 {MAX_TOP} inclusive."
                            ))
                        })?;
                }
                "$skiptoken" => {
                    query.offset = decode_skip_token(&value)
                        .ok_or_else(|| bad_request("The $skipToken is not valid."))?;
                    continue;
                }
                "$filter" => query.filter = parse_filter(&value, filterable)?,
                "$select" => {
                    query.select = Some(
                        value
                            .split(',')
                            .map(|s| s.trim().to_owned())
                            .filter(|s| !s.is_empty())
                            .collect(),
                    )
                }
                "$count" => {
                    query.count = match value.trim() {
                        "true" => true,
                        "false" => false,
                        other => {
                            return Err(bad_request(format!(
                                "The value '{other}' of $count is not valid: use true or false."
                            )))
                        }
                    }
                }
                other if other.starts_with('$') => {
                    return Err(bad_request(format!(
                        "The query option '{name}' is not supported on this resource."
                    )))
                }
                _ => {}
            }
            query.carried.push((name.into_owned(), value.into_owned()));
        }
        Ok(query)
    }

    /// One page of `items` as Graph serves it; only the page's items are serialised.
    fn page<T>(
        &self,
        items: &[T],
        to_json: impl Fn(&T) -> Value,
        context: &str,
        next_base: &str,
    ) -> Value {
        let total = items.len();
        let end = self.offset.saturating_add(self.top).min(total);
        let value: Vec<Value> = items
            .get(self.offset.min(end)..end)
            .unwrap_or_default()
            .iter()
            .map(|item| self.selected(to_json(item)))
            .collect();
        let mut page = Map::new();
        page.insert("@odata.context".into(), context.into());
        if self.count {
            page.insert("@odata.count".into(), total.into());
        }
        page.insert("value".into(), Value::Array(value));
        if end < total {
            let mut link = format!("{next_base}?");
            for (name, value) in &self.carried {
                link.push_str(name);
                link.push('=');
                link.extend(url::form_urlencoded::byte_serialize(value.as_bytes()));
                link.push('&');
            }
            link.push_str("$skipToken=");
            link.push_str(&encode_skip_token(end));
            page.insert("@odata.nextLink".into(), link.into());
        }
        Value::Object(page)
    }

    fn selected(&self, item: Value) -> Value {
        let (Some(select), Value::Object(map)) = (&self.select, &item) else {
            return item;
        };
        Value::Object(
            map.iter()
                .filter(|(k, _)| {
                    k.starts_with('@') || k.as_str() == "id" || select.iter().any(|s| s == *k)
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    fn matches(&self, relationship: &Relationship) -> bool {
        self.filter.iter().all(|clause| match clause {
            Clause::TenantId(id) => relationship.customer_tenant_id == *id,
            Clause::Status(status) => relationship.status.eq_ignore_ascii_case(status),
        })
    }
}

/// Opaque to clients: the offset of the next page.
fn encode_skip_token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("sim-offset:{offset}"))
}

fn decode_skip_token(token: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("sim-offset:")?
        .parse()
        .ok()
}

/// `prop eq 'value' [and prop eq 'value' ...]`, for the properties public tools use.
fn parse_filter(text: &str, filterable: &[&str]) -> Result<Vec<Clause>, ApiError> {
    let invalid = || bad_request(format!("Invalid filter clause: '{text}'."));
    let mut clauses = Vec::new();
    let lower = text.to_ascii_lowercase();
    let mut rest_start = 0;
    let mut parts = Vec::new();
    // Split on " and " outside quotes.
    let mut quoted = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            quoted = !quoted;
        } else if !quoted && lower.as_bytes()[i..].starts_with(b" and ") {
            parts.push(&text[rest_start..i]);
            rest_start = i + 5;
            i += 5;
            continue;
        }
        i += 1;
    }
    parts.push(&text[rest_start..]);
    for part in parts {
        let part = part.trim();
        let lower_part = part.to_ascii_lowercase();
        let at = lower_part.find(" eq ").ok_or_else(invalid)?;
        let property = part[..at].trim();
        let literal = part[at + 4..].trim();
        let value = literal
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .ok_or_else(invalid)?;
        let known = filterable
            .iter()
            .find(|p| p.eq_ignore_ascii_case(property))
            .ok_or_else(|| {
                bad_request(format!(
                    "Invalid filter clause: the property '{property}' cannot be filtered on \
                     (supported: {}).",
                    filterable.join(", ")
                ))
            })?;
        clauses.push(match *known {
            "customer/tenantId" => Clause::TenantId(Uuid::parse_str(value).map_err(|_| {
                bad_request(format!(
                    "Invalid filter clause: '{value}' is not a valid tenant id."
                ))
            })?),
            _ => Clause::Status(value.to_owned()),
        });
    }
    Ok(clauses)
}

fn json_response(body: &Value) -> Response {
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(
            "application/json;odata.metadata=minimal;odata.streaming=true;\
             IEEE754Compatible=false;charset=utf-8",
        ),
    );
    response
}

/// `GET tenantRelationships/delegatedAdminRelationships`
pub(crate) async fn list_relationships(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let user = sim.graph_caller(&headers)?;
    let query = ListQuery::parse(query.as_deref(), &["customer/tenantId", "status"])?;
    let base = sim.inner.config.graph_base();
    let store = sim.inner.store.lock();
    let world = sim.gdap(&store);
    let matching: Vec<&Relationship> = if user.admin_agent {
        world
            .relationships
            .iter()
            .filter(|r| query.matches(r))
            .collect()
    } else {
        Vec::new()
    };
    Ok(json_response(&query.page(
        &matching,
        |r| r.to_json(),
        &format!("{base}/$metadata#tenantRelationships/delegatedAdminRelationships"),
        &format!("{base}/tenantRelationships/delegatedAdminRelationships"),
    )))
}

fn relationship_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "The delegated admin relationship with id '{}' was not found.",
        id.chars().take(100).collect::<String>()
    ))
    .on(Host::Graph)
}

/// `GET tenantRelationships/delegatedAdminRelationships/{id}`
pub(crate) async fn get_relationship(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let user = sim.graph_caller(&headers)?;
    let base = sim.inner.config.graph_base();
    let store = sim.inner.store.lock();
    let world = sim.gdap(&store);
    let relationship = world
        .relationship(&id)
        .filter(|_| user.admin_agent)
        .ok_or_else(|| relationship_not_found(&id))?;
    let mut body = relationship.to_json();
    if let Some(map) = body.as_object_mut() {
        map.insert(
            "@odata.context".into(),
            format!("{base}/$metadata#tenantRelationships/delegatedAdminRelationships/$entity")
                .into(),
        );
    }
    Ok(json_response(&body))
}

/// `GET tenantRelationships/delegatedAdminRelationships/{id}/accessAssignments`
pub(crate) async fn list_assignments(
    State(sim): State<Simulator>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let user = sim.graph_caller(&headers)?;
    let query = ListQuery::parse(query.as_deref(), &["status"])?;
    let base = sim.inner.config.graph_base();
    let items: Vec<Value> = {
        let store = sim.inner.store.lock();
        let world = sim.gdap(&store);
        let relationship = world
            .relationship(&id)
            .ok_or_else(|| relationship_not_found(&id))?;
        if user.admin_agent {
            relationship
                .assignments
                .iter()
                .filter(|a| {
                    query.filter.iter().all(|c| match c {
                        Clause::Status(s) => a.status.eq_ignore_ascii_case(s),
                        Clause::TenantId(_) => true,
                    })
                })
                .map(|a| a.to_json())
                .collect()
        } else {
            Vec::new()
        }
    };
    let path = format!("tenantRelationships/delegatedAdminRelationships/{id}/accessAssignments");
    Ok(json_response(&query.page(
        &items,
        Value::clone,
        &format!("{base}/$metadata#{path}"),
        &format!("{base}/{path}"),
    )))
}

/// `GET tenantRelationships/delegatedAdminCustomers`: the customers with at least one active
/// relationship.
pub(crate) async fn list_customers(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let user = sim.graph_caller(&headers)?;
    let query = ListQuery::parse(query.as_deref(), &[])?;
    let base = sim.inner.config.graph_base();
    let store = sim.inner.store.lock();
    let world = sim.gdap(&store);
    let mut seen = std::collections::HashSet::new();
    let customers: Vec<&Relationship> = if user.admin_agent {
        world
            .relationships
            .iter()
            .filter(|r| r.status == "active" && seen.insert(r.customer_tenant_id))
            .collect()
    } else {
        Vec::new()
    };
    Ok(json_response(&query.page(
        &customers,
        |r| {
            json!({
                "id": r.customer_tenant_id,
                "tenantId": r.customer_tenant_id,
                "displayName": r.customer_display_name,
            })
        },
        &format!("{base}/$metadata#tenantRelationships/delegatedAdminCustomers"),
        &format!("{base}/tenantRelationships/delegatedAdminCustomers"),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_with_and_quotes_and_any_casing() {
        let id = "8777b240-c6f0-4469-9e98-a3205431b836";
        let clauses = parse_filter(
            &format!("customer/tenantId eq '{id}' AND status eq 'active'"),
            &["customer/tenantId", "status"],
        );
        assert_eq!(
            clauses.ok(),
            Some(vec![
                Clause::TenantId(Uuid::parse_str(id).unwrap_or_default()),
                Clause::Status("active".into())
            ])
        );
        assert!(parse_filter("status eq 'a and b'", &["status"]).is_ok());
        for bad in [
            "status eq active",
            "displayName eq 'x'",
            "customer/tenantId eq 'nope'",
            "status ne 'active'",
        ] {
            assert!(
                parse_filter(bad, &["customer/tenantId", "status"]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn skip_tokens_round_trip_and_refuse_garbage() {
        assert_eq!(decode_skip_token(&encode_skip_token(600)), Some(600));
        assert_eq!(decode_skip_token("garbage!"), None);
        assert_eq!(decode_skip_token(&URL_SAFE_NO_PAD.encode("600")), None);
    }
}
