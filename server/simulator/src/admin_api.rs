//! The Partner Customer Administration API: `GET delegatedAdminCustomers` with OData options.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::config::ADMIN_API_AUDIENCE;
use crate::data::Customer;
use crate::errors::{ApiError, Host};
use crate::odata::{Property, QueryOptions};
use crate::timefmt::format_ticks;
use crate::Simulator;

/// One delegatedAdminCustomer, limited to the `$select`ed properties.
struct CustomerView<'a> {
    customer: &'a Customer,
    select: Option<&'a [Property]>,
}

impl Serialize for CustomerView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let c = self.customer;
        let mut map = serializer.serialize_map(None)?;
        for property in Property::ALL {
            if self.select.is_some_and(|s| !s.contains(&property)) {
                continue;
            }
            let key = property.name();
            match property {
                Property::Id | Property::CustomerTenantId => {
                    map.serialize_entry(key, &c.tenant_id)?
                }
                Property::OrganizationDisplayName => map.serialize_entry(key, &c.display_name)?,
                Property::PartnerAgentCount => map.serialize_entry(key, &c.partner_agent_count)?,
                Property::PartnerSignInCount => {
                    map.serialize_entry(key, &c.partner_sign_in_count)?
                }
                Property::GlobalAdminSignInCount => {
                    map.serialize_entry(key, &c.global_admin_sign_in_count)?
                }
                Property::DapEnabled => map.serialize_entry(key, &c.dap_enabled)?,
                Property::StartDateTime => map.serialize_entry(key, &format_ticks(c.start))?,
                Property::EndDateTime => map.serialize_entry(key, &c.end.map(format_ticks))?,
                Property::LastSignInDateTime => {
                    map.serialize_entry(key, &c.last_sign_in.map(format_ticks))?
                }
            }
        }
        map.end()
    }
}

#[derive(Serialize)]
struct Page<'a> {
    #[serde(rename = "@odata.context")]
    context: String,
    #[serde(rename = "@odata.count", skip_serializing_if = "Option::is_none")]
    count: Option<usize>,
    value: Vec<CustomerView<'a>>,
    #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
    next_link: Option<String>,
}

/// `GET delegatedAdminCustomers`
pub(crate) async fn list(
    State(sim): State<Simulator>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    sim.authenticate(&headers, ADMIN_API_AUDIENCE, Host::AdminApi)?;
    let options = QueryOptions::parse(query.as_deref())
        .map_err(|message| ApiError::bad_request(message).on(Host::AdminApi))?;
    let base = sim.inner.config.admin_api_base();
    let count_omitted = sim.inner.faults.read().count_omitted;

    let body = {
        let store = sim.inner.store.lock();
        let mut matching: Vec<&Customer> = store
            .customers()
            .iter()
            .filter(|c| options.filter.as_ref().is_none_or(|f| f.matches(c)))
            .collect();
        options.sort(&mut matching);
        let total = matching.len();
        let end = options.skip.saturating_add(options.top).min(total);
        let page = matching
            .get(options.skip.min(total)..end)
            .unwrap_or_default();
        let select = options.select.as_deref();
        let context = match select {
            Some(props) => format!(
                "{base}/$metadata#delegatedAdminCustomers({})",
                props.iter().map(|p| p.name()).collect::<Vec<_>>().join(",")
            ),
            None => format!("{base}/$metadata#delegatedAdminCustomers"),
        };
        let next_link = (end < total)
            .then(|| format!("{base}/delegatedAdminCustomers?{}", options.next_query(end)));
        let page = Page {
            context,
            count: (options.count && !count_omitted).then_some(total),
            value: page
                .iter()
                .map(|customer| CustomerView { customer, select })
                .collect(),
            next_link,
        };
        serde_json::to_vec(&page)
    };
    let body = body.map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "500", e.to_string()).on(Host::AdminApi)
    })?;
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; odata.metadata=minimal; charset=utf-8"),
    );
    Ok(response)
}
