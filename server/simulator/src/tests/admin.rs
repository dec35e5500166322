//! The delegatedAdminCustomers list: OData options, paging, errors.

use std::collections::HashSet;

use http::StatusCode;
use serde_json::Value;

use super::*;

fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Follows `@odata.nextLink` to the end; returns all items and the number of pages.
async fn page_all(t: &TestSim, token: &str, first: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut pages = 0;
    let mut next = Some(first.to_owned());
    while let Some(path) = next {
        let response = t.get(&path, Some(token)).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text());
        let body = response.json();
        items.extend(body["value"].as_array().unwrap().iter().cloned());
        pages += 1;
        assert!(pages < 1000, "paging does not end");
        next = body["@odata.nextLink"].as_str().map(|link| {
            let prefix = format!("{BASE}/_sim/pcsvcadmin/CustomerServiceAdminApi/Web/v1/");
            assert!(link.starts_with(&prefix), "{link}");
            link.strip_prefix(BASE).unwrap().to_owned()
        });
    }
    (items, pages)
}

#[tokio::test]
async fn paging_returns_every_customer_exactly_once() {
    let t = TestSim::new(config(250));
    let token = t.admin_token(ADMIN).await;

    let first = t
        .get(&format!("{ADMIN_LIST}?$count=true&$top=300"), Some(&token))
        .await
        .json();
    assert_eq!(first["@odata.count"], 250);
    assert!(first.get("@odata.nextLink").is_none());
    assert_eq!(
        first["@odata.context"],
        format!("{BASE}/_sim/pcsvcadmin/CustomerServiceAdminApi/Web/v1/$metadata#delegatedAdminCustomers")
    );
    let item = &first["value"][0];
    for key in [
        "id",
        "customerTenantId",
        "organizationDisplayName",
        "partnerAgentCount",
        "partnerSignInCount",
        "globalAdminSignInCount",
        "dapEnabled",
        "startDateTime",
        "endDateTime",
        "lastSignInDateTime",
    ] {
        assert!(item.get(key).is_some(), "{key}");
    }
    let start = item["startDateTime"].as_str().unwrap();
    assert_eq!(start.len(), 28, "{start}");
    assert!(start.ends_with('Z'));

    // Default page size is 100: three pages, stable generation order.
    let (items, pages) = page_all(&t, &token, ADMIN_LIST).await;
    assert_eq!(pages, 3);
    let ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 250);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 250);
    let expected = t.customer_ids();
    assert_eq!(ids, expected.iter().map(String::as_str).collect::<Vec<_>>());

    // Sorted by name, filtered, small pages: still each exactly once.
    let query = format!(
        "{ADMIN_LIST}?$orderBy={}&$top=7&$count=true&$filter={}",
        enc("organizationDisplayName desc"),
        enc("dapEnabled eq true or lastSignInDateTime eq null")
    );
    let (items, _) = page_all(&t, &token, &query).await;
    let expected: usize = t
        .sim
        .inner
        .store
        .lock()
        .customers()
        .iter()
        .filter(|c| c.dap_enabled || c.last_sign_in.is_none())
        .count();
    assert_eq!(items.len(), expected);
    let unique: HashSet<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), expected);
    let names: Vec<String> = items
        .iter()
        .map(|i| {
            i["organizationDisplayName"]
                .as_str()
                .unwrap()
                .to_lowercase()
        })
        .collect();
    assert!(names.windows(2).all(|w| w[0] >= w[1]), "descending by name");
}

#[tokio::test]
async fn filters_select_and_skip_work() {
    let t = TestSim::new(config(200));
    let token = t.admin_token(READER).await;
    let customers: Vec<crate::data::Customer> = t.sim.inner.store.lock().customers().to_vec();

    let name = customers[17].display_name.clone();
    let quoted = name.replace('\'', "''");
    let body = t
        .get(
            &format!(
                "{ADMIN_LIST}?$filter={}",
                enc(&format!("organizationDisplayName eq '{quoted}'"))
            ),
            Some(&token),
        )
        .await
        .json();
    let values = body["value"].as_array().unwrap();
    assert!(values
        .iter()
        .any(|v| v["id"] == customers[17].tenant_id.to_string()));
    assert!(values
        .iter()
        .all(|v| v["organizationDisplayName"] == name.as_str()));

    let body = t
        .get(
            &format!(
                "{ADMIN_LIST}?$select=id,dapEnabled&$top=5&$skip=10&$filter={}",
                enc("lastSignInDateTime lt 2100-01-01T00:00:00Z and dapEnabled eq false")
            ),
            Some(&token),
        )
        .await
        .json();
    let expected: Vec<String> = customers
        .iter()
        .filter(|c| c.last_sign_in.is_some() && !c.dap_enabled)
        .skip(10)
        .take(5)
        .map(|c| c.tenant_id.to_string())
        .collect();
    let got: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, expected);
    let first = body["value"][0].as_object().unwrap();
    assert_eq!(first.len(), 2, "only selected properties: {first:?}");
    assert!(body["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("delegatedAdminCustomers(id,dapEnabled)"));

    let body = t
        .get(
            &format!(
                "{ADMIN_LIST}?$filter={}",
                enc("startswith(organizationDisplayName,'contoso') and (dapEnabled eq true or dapEnabled eq false)")
            ),
            Some(&token),
        )
        .await
        .json();
    for v in body["value"].as_array().unwrap() {
        assert!(v["organizationDisplayName"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .starts_with("contoso"));
    }
}

#[tokio::test]
async fn invalid_options_are_rejected_in_odata_shape() {
    let t = TestSim::small();
    let token = t.admin_token(ADMIN).await;
    for query in [
        "$top=301".to_owned(),
        "$top=0".to_owned(),
        "$top=ten".to_owned(),
        "$skip=-5".to_owned(),
        "$count=maybe".to_owned(),
        format!("$orderBy={}", enc("partnerSignInCount desc")),
        format!("$filter={}", enc("organizationDisplayName like 'x'")),
        format!("$filter={}", enc("contains(organizationDisplayName,'x'")),
        "$select=secret".to_owned(),
        "$expand=relationships".to_owned(),
    ] {
        let response = t.get(&format!("{ADMIN_LIST}?{query}"), Some(&token)).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{query}");
        let message = odata_error_message(&response);
        assert!(!message.is_empty());
        assert!(response.header("ms-requestid").is_some());
    }
    let response = t.get(&format!("{ADMIN_LIST}?$top=301"), Some(&token)).await;
    assert!(odata_error_message(&response).contains("$top"));
}
