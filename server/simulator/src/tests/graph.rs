//! Microsoft Graph GDAP endpoints: paging, `$top`, filters, the audience, the empty-list trap,
//! Graph's error shape and ids, fractional `Retry-After`, and the test controls.

use std::collections::{BTreeMap, HashSet};

use axum::body::Body;
use http::{Method, Request, StatusCode};
use serde_json::Value;

use super::{config, TestResponse, TestSim, ADMIN, READER};
use crate::{FaultConfig, GRAPH_AUDIENCE};

const RELATIONSHIPS: &str = "/_sim/graph/v1.0/tenantRelationships/delegatedAdminRelationships";

impl TestSim {
    async fn graph_token(&self, upn: &str) -> String {
        let scope = format!("openid offline_access {GRAPH_AUDIENCE}/.default");
        self.sign_in(upn, &scope).await.access_token
    }

    async fn graph_get(&self, path_or_url: &str, token: &str) -> TestResponse {
        let path = path_or_url.strip_prefix(super::BASE).unwrap_or(path_or_url);
        self.send(
            Request::get(path)
                .header("Authorization", format!("Bearer {token}"))
                .header("client-request-id", "3f2b8c1e-5d4a-4e6f-9a0b-1c2d3e4f5a6b")
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    /// Every page of a Graph list, following `@odata.nextLink`.
    async fn graph_all(&self, first: &str, token: &str) -> (Vec<Value>, usize) {
        let mut items = Vec::new();
        let mut pages = 0;
        let mut next = Some(first.to_owned());
        while let Some(link) = next {
            let response = self.graph_get(&link, token).await;
            assert_eq!(response.status, StatusCode::OK, "{}", response.text());
            let body = response.json();
            items.extend(body["value"].as_array().unwrap().iter().cloned());
            next = body["@odata.nextLink"].as_str().map(str::to_owned);
            if let Some(link) = &next {
                assert!(
                    link.starts_with("http://sim.test/_sim/graph/v1.0/"),
                    "absolute link on the Graph base: {link}"
                );
                assert!(link.contains("$skipToken="), "{link}");
            }
            pages += 1;
        }
        (items, pages)
    }
}

/// Asserts Graph's error shape (ids inside `innerError` equal the headers); returns the code.
fn graph_error_code(response: &TestResponse) -> String {
    let body = response.json();
    let error = &body["error"];
    assert!(error["message"].is_string(), "{body}");
    let inner = &error["innerError"];
    assert!(inner["date"].is_string(), "{body}");
    assert!(response.header("request-id").is_some(), "{body}");
    assert!(response.header("client-request-id").is_some(), "{body}");
    assert_eq!(
        inner["request-id"].as_str(),
        response.header("request-id"),
        "{body}"
    );
    assert_eq!(
        inner["client-request-id"].as_str(),
        response.header("client-request-id"),
        "{body}"
    );
    error["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn lists_page_past_300_with_skip_tokens_to_the_end() {
    let t = TestSim::new(config(400));
    let token = t.graph_token(ADMIN).await;
    let state = t.state().await;
    let expected: usize = state["gdap"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["relationships"].as_array().unwrap().len())
        .sum();
    assert!(expected > 300, "enough relationships to page: {expected}");

    let (items, pages) = t
        .graph_all(&format!("{RELATIONSHIPS}?$top=300"), &token)
        .await;
    assert_eq!(pages, expected.div_ceil(300));
    assert_eq!(items.len(), expected);
    let ids: HashSet<&str> = items.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), expected, "no relationship twice");

    // Without $top the service pages by 100.
    let first = t.graph_get(RELATIONSHIPS, &token).await;
    assert_eq!(first.json()["value"].as_array().unwrap().len(), 100);
    let (all, pages) = t.graph_all(RELATIONSHIPS, &token).await;
    assert_eq!((all.len(), pages), (expected, expected.div_ceil(100)));
}

#[tokio::test]
async fn top_above_300_and_bad_options_are_400_in_graph_shape() {
    let t = TestSim::small();
    let token = t.graph_token(ADMIN).await;
    for query in [
        "$top=301",
        "$top=0",
        "$top=many",
        "$skipToken=garbage",
        "$filter=displayName eq 'x'",
        "$filter=status eq active",
        "$expand=accessAssignments",
    ] {
        let query = query.replace(' ', "%20");
        let response = t
            .graph_get(&format!("{RELATIONSHIPS}?{query}"), &token)
            .await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(graph_error_code(&response), "BadRequest", "{query}");
    }
    let ok = t
        .graph_get(&format!("{RELATIONSHIPS}?$top=300"), &token)
        .await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn filters_on_customer_tenant_and_status() {
    let t = TestSim::small();
    let token = t.graph_token(ADMIN).await;
    let state = t.state().await;
    // Customer 8 is seeded with an MLT_, a terminated and a covering relationship.
    let customer = t.customer_ids()[8].clone();
    let seeded = state["gdap"][&customer]["relationships"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(seeded, 3);

    let filter = format!("customer/tenantId eq '{customer}'");
    let url = format!(
        "{RELATIONSHIPS}?$filter={}",
        url::form_urlencoded::byte_serialize(filter.as_bytes()).collect::<String>()
    );
    let (items, _) = t.graph_all(&url, &token).await;
    assert_eq!(items.len(), 3);
    assert!(items
        .iter()
        .all(|r| r["customer"]["tenantId"] == customer.as_str()));

    let filter = format!("customer/tenantId eq '{customer}' and status eq 'active'");
    let url = format!(
        "{RELATIONSHIPS}?$filter={}",
        url::form_urlencoded::byte_serialize(filter.as_bytes()).collect::<String>()
    );
    let (items, _) = t.graph_all(&url, &token).await;
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|r| r["status"] == "active"));

    let (active, _) = t
        .graph_all(
            &format!("{RELATIONSHIPS}?$filter=status%20eq%20'active'&$top=7"),
            &token,
        )
        .await;
    let (all, _) = t.graph_all(RELATIONSHIPS, &token).await;
    let expected = all.iter().filter(|r| r["status"] == "active").count();
    assert_eq!(active.len(), expected);
    assert!(active.len() < all.len());
}

#[tokio::test]
async fn resources_carry_the_documented_fields() {
    let t = TestSim::small();
    let token = t.graph_token(ADMIN).await;
    let (all, _) = t.graph_all(RELATIONSHIPS, &token).await;
    let reseller = all
        .iter()
        .find(|r| r["@odata.type"] == "#microsoft.graph.resellerDelegatedAdminRelationship")
        .expect("a reseller relationship");
    assert!(reseller["isPartnerConsentPending"].is_boolean());
    assert!(reseller["indirectProviderTenantId"].is_string());
    assert!(
        all.iter().any(|r| r.get("autoExtendDuration").is_none()),
        "some answers lack autoExtendDuration"
    );
    assert!(all
        .iter()
        .any(|r| r["status"] == "approvalPending" && r["activatedDateTime"].is_null()));
    assert!(all
        .iter()
        .any(|r| r["displayName"].as_str().unwrap().starts_with("MLT_")));
    let first = &all[0];
    for field in [
        "@odata.etag",
        "id",
        "displayName",
        "duration",
        "customer",
        "accessDetails",
        "status",
        "createdDateTime",
        "lastModifiedDateTime",
    ] {
        assert!(first.get(field).is_some(), "{field}: {first}");
    }
    let id = first["id"].as_str().unwrap();
    assert_eq!(id.len(), 73);

    let one = t.graph_get(&format!("{RELATIONSHIPS}/{id}"), &token).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json()["id"], id);
    let assignments = t
        .graph_get(&format!("{RELATIONSHIPS}/{id}/accessAssignments"), &token)
        .await;
    assert_eq!(assignments.status, StatusCode::OK);
    let body = assignments.json();
    let assignment = &body["value"][0];
    assert_eq!(
        assignment["accessContainer"]["accessContainerType"],
        "securityGroup"
    );
    assert!(assignment["accessDetails"]["unifiedRoles"][0]["roleDefinitionId"].is_string());

    let missing = t
        .graph_get(
            &format!(
                "{RELATIONSHIPS}/00000000-0000-0000-0000-000000000000-{}",
                &id[37..]
            ),
            &token,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(graph_error_code(&missing), "ResourceNotFound");
}

#[tokio::test]
async fn tokens_for_other_audiences_are_refused_in_graph_shape() {
    let t = TestSim::small();
    let pc_token = t.pc_token(ADMIN).await;
    let response = t.graph_get(RELATIONSHIPS, &pc_token).await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(graph_error_code(&response), "InvalidAuthenticationToken");
    assert!(response.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("audience"));
    assert!(response.header("www-authenticate").is_some());

    let post = t
        .call(Method::POST, RELATIONSHIPS, Some(&pc_token), None, None)
        .await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(graph_error_code(&post), "MethodNotAllowed");
    let unknown = t
        .graph_get(
            "/_sim/graph/v1.0/tenantRelationships/nothingHere",
            &pc_token,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(graph_error_code(&unknown), "ResourceNotFound");

    let anonymous = t.get(RELATIONSHIPS, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(graph_error_code(&anonymous), "InvalidAuthenticationToken");
}

#[tokio::test]
async fn a_user_outside_admin_agents_gets_200_and_empty_lists() {
    let t = TestSim::small();
    let admin = t.graph_token(ADMIN).await;
    let (all, _) = t.graph_all(RELATIONSHIPS, &admin).await;
    assert!(!all.is_empty());
    let id = all[0]["id"].as_str().unwrap();

    let reader = t.graph_token(READER).await;
    let response = t.graph_get(RELATIONSHIPS, &reader).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json()["value"], Value::Array(vec![]));
    let response = t
        .graph_get(&format!("{RELATIONSHIPS}/{id}/accessAssignments"), &reader)
        .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.json()["value"], Value::Array(vec![]));
    let response = t
        .graph_get(
            "/_sim/graph/v1.0/tenantRelationships/delegatedAdminCustomers",
            &reader,
        )
        .await;
    assert_eq!(response.json()["value"], Value::Array(vec![]));
}

#[tokio::test]
async fn throttling_has_a_fractional_retry_after_and_request_ids() {
    let t = TestSim::small();
    let token = t.graph_token(ADMIN).await;
    t.sim.set_faults(FaultConfig {
        error_rates: BTreeMap::from([(429, 1.0)]),
        retry_after: Some(0.35),
        max_faults: Some(2),
        path_contains: Some("/_sim/graph/".into()),
        ..FaultConfig::default()
    });
    for _ in 0..2 {
        let response = t.graph_get(RELATIONSHIPS, &token).await;
        assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.header("retry-after"), Some("0.35"));
        assert_eq!(graph_error_code(&response), "TooManyRequests");
        assert_eq!(
            response.header("client-request-id"),
            Some("3f2b8c1e-5d4a-4e6f-9a0b-1c2d3e4f5a6b")
        );
        assert!(response.header("ms-requestid").is_none());
    }
    let response = t.graph_get(RELATIONSHIPS, &token).await;
    assert_eq!(response.status, StatusCode::OK, "the fault budget is spent");
    let request_id = response.header("request-id").unwrap();
    assert!(uuid::Uuid::parse_str(request_id).is_ok());
    assert_eq!(t.sim.faults().max_faults, Some(0));

    t.sim.set_faults(FaultConfig {
        error_rates: BTreeMap::from([(503, 1.0)]),
        retry_after: Some(1.25),
        ..FaultConfig::default()
    });
    let response = t.graph_get(RELATIONSHIPS, &token).await;
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.header("retry-after"), Some("1.25"));
    assert_eq!(graph_error_code(&response), "ServiceUnavailable");
}

#[tokio::test]
async fn state_shows_every_class_and_controls_change_the_truth() {
    let t = TestSim::small();
    let token = t.graph_token(ADMIN).await;
    let ids = t.customer_ids();
    let state = t.state().await;
    let gdap = state["gdap"].as_object().unwrap();
    assert_eq!(gdap.len(), ids.len());
    let classes: HashSet<&str> = gdap
        .values()
        .map(|c| c["expectedCoverage"].as_str().unwrap())
        .collect();
    assert_eq!(
        classes,
        HashSet::from(["covered", "partial", "at_risk", "none"])
    );

    // Customer 0: one covering relationship. Terminating it leaves none.
    let covered = &state["gdap"][&ids[0]];
    assert_eq!(covered["expectedCoverage"], "covered");
    let relationship = covered["relationships"][0]["id"].as_str().unwrap();
    let response = t
        .call(
            Method::POST,
            &format!("/_sim/gdap/relationships/{relationship}/terminate"),
            None,
            None,
            None,
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.json()["expectedCoverage"], "none");
    let now = t
        .graph_get(&format!("{RELATIONSHIPS}/{relationship}"), &token)
        .await;
    assert_eq!(now.json()["status"], "terminated");
    assert_eq!(t.state().await["gdap"][&ids[0]]["expectedCoverage"], "none");

    // Customer 4: roles split over two assignments. Deleting the one with PRA leaves partial.
    let split = &state["gdap"][&ids[4]]["relationships"][0];
    let relationship = split["id"].as_str().unwrap();
    let with_pra = split["accessAssignments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["status"] == "active"
                && a["accessDetails"]["unifiedRoles"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["roleDefinitionId"] == "e8611ab8-c189-46e8-94e1-60213ab1f814")
        })
        .unwrap();
    let assignment = with_pra["id"].as_str().unwrap();
    let response = t
        .call(
            Method::POST,
            &format!(
                "/_sim/gdap/relationships/{relationship}/accessAssignments/{assignment}/delete"
            ),
            None,
            None,
            None,
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.json()["expectedCoverage"], "partial");
    let listed = t
        .graph_get(
            &format!(
                "{RELATIONSHIPS}/{relationship}/accessAssignments?$filter=status%20eq%20'deleted'"
            ),
            &token,
        )
        .await;
    assert!(listed.json()["value"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["id"] == assignment));

    let unknown = t
        .call(
            Method::POST,
            "/_sim/gdap/relationships/nope/terminate",
            None,
            None,
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}
