//! The typed Microsoft Graph client against the simulator over HTTP, with the signed-in admin's
//! own Graph token: paging past 300, the per-customer filter, access assignments, fractional
//! Retry-After, the empty-list trap, ids that never reach a URL, and the coverage of every
//! seeded customer compared with the simulator's truth.

use crate::common;

use app::error::AppError;
use app::ids::{Guid, RelationshipId};
use app::model::gdap::{self, Coverage};
use app::ssr::auth::AccessToken;
use app::ssr::graph::models::DelegatedAdminRelationship;
use app::ssr::graph::{GraphError, ATTEMPTS, DEFAULT_CONCURRENCY};
use common::{Options, TestServer, ADMIN_UPN, READER_UPN};
use serde_json::Value;
use simulator::FaultConfig;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

async fn graph_token(server: &TestServer, upn: &str) -> AccessToken {
    server.sign_in(upn).await;
    server
        .state
        .tokens
        .access_token(&server.user_key(upn), &server.state.config.graph_audience)
        .await
        .unwrap()
}

/// The simulator's GDAP truth: tenant → (expected coverage, relationships).
async fn sim_truth(server: &TestServer) -> BTreeMap<String, Value> {
    let state = server.sim_state().await;
    state["gdap"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn injected(state: &Value) -> u64 {
    state["counters"]["injectedFaults"].as_u64().unwrap()
}

#[tokio::test]
async fn every_relationship_is_listed_paging_past_300() {
    let server = TestServer::start_with(Options {
        customers: 400,
        ..Default::default()
    })
    .await;
    let token = graph_token(&server, ADMIN_UPN).await;
    let truth = sim_truth(&server).await;
    let expected: HashSet<String> = truth
        .values()
        .flat_map(|c| c["relationships"].as_array().unwrap().iter())
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert!(expected.len() > 300, "{} relationships", expected.len());

    let listing = server.state.graph.list_relationships(&token).await.unwrap();
    let ids: HashSet<String> = listing.items.iter().map(|r| r.id.clone()).collect();
    assert_eq!(listing.items.len(), expected.len(), "none twice");
    assert_eq!(ids, expected);
    assert_eq!(
        listing.calls.len(),
        expected.len().div_ceil(300),
        "$top=300"
    );
    let client_ids: HashSet<Guid> = listing.calls.iter().map(|c| c.client_request_id).collect();
    assert_eq!(
        client_ids.len(),
        listing.calls.len(),
        "a fresh client-request-id per call"
    );
    for call in &listing.calls {
        let request_id = call
            .request_id
            .as_deref()
            .expect("Graph's request-id recorded");
        assert!(Guid::parse(request_id).is_ok(), "{request_id}");
    }
}

#[tokio::test]
async fn one_customers_relationships_and_their_access_assignments() {
    let server = TestServer::start().await;
    let token = graph_token(&server, ADMIN_UPN).await;
    let truth = sim_truth(&server).await;
    // The simulator seeds customer 8 with an MLT_, a terminated and a covering relationship.
    let state = server.sim_state().await;
    let customer = state["customers"][8]["customerTenantId"].as_str().unwrap();
    let seeded = truth[customer]["relationships"].as_array().unwrap();
    assert_eq!(seeded.len(), 3);

    let graph = &server.state.graph;
    let listing = graph
        .list_relationships_for_customer(&token, Guid::parse(customer).unwrap())
        .await
        .unwrap();
    assert_eq!(listing.items.len(), 3);
    assert!(listing
        .items
        .iter()
        .all(|r| r.customer_tenant_id() == Some(customer)));
    assert_eq!(listing.calls.len(), 1);

    for seeded in seeded {
        let id = RelationshipId::parse(seeded["id"].as_str().unwrap()).unwrap();
        let assignments = graph.list_access_assignments(&token, &id).await.unwrap();
        let got: HashSet<&str> = assignments.items.iter().map(|a| a.id.as_str()).collect();
        let want: HashSet<&str> = seeded["accessAssignments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        assert_eq!(got, want, "{id}");
    }
}

/// Reads every relationship with its assignments and classifies each customer of the truth.
async fn classify_all(server: &TestServer, token: &AccessToken) -> HashMap<String, gdap::Verdict> {
    let graph = &server.state.graph;
    let listing = graph.list_relationships(token).await.unwrap();
    let unassigned: Vec<gdap::Relationship> =
        listing.items.iter().map(|r| r.to_model(&[])).collect();
    assert!(gdap::partner_wide_unknown::<GraphError>(Ok(&unassigned)).is_none());
    let models = graph
        .with_assignments(token, &listing.items, true, DEFAULT_CONCURRENCY, &|| {})
        .await
        .unwrap()
        .items;
    let mut by_customer: HashMap<String, Vec<gdap::Relationship>> = HashMap::new();
    for relationship in models {
        by_customer
            .entry(relationship.customer_tenant_id.clone())
            .or_default()
            .push(relationship);
    }
    let now = time::OffsetDateTime::now_utc();
    sim_truth(server)
        .await
        .keys()
        .map(|tenant| {
            let relationships = by_customer.remove(tenant).unwrap_or_default();
            (tenant.clone(), gdap::classify(&relationships, now))
        })
        .collect()
}

#[tokio::test]
async fn the_coverage_of_every_seeded_customer_equals_the_simulators_truth() {
    let server = TestServer::start().await;
    let token = graph_token(&server, ADMIN_UPN).await;
    let verdicts = classify_all(&server, &token).await;
    let truth = sim_truth(&server).await;
    let mut classes = HashSet::new();
    for (tenant, expected) in &truth {
        let verdict = &verdicts[tenant];
        assert_eq!(
            verdict.coverage.as_str(),
            expected["expectedCoverage"].as_str().unwrap(),
            "customer {tenant} ({}): {:?}",
            expected["scenario"],
            verdict.reasons
        );
        assert!(!verdict.reasons.is_empty());
        classes.insert(verdict.coverage);
    }
    assert_eq!(
        classes,
        HashSet::from([
            Coverage::Covered,
            Coverage::Partial,
            Coverage::AtRisk,
            Coverage::None
        ])
    );

    // A relationship terminated and an assignment deleted at run time: re-read, the verdict
    // follows the simulator.
    let state = server.sim_state().await;
    let covered = state["customers"][0]["customerTenantId"].as_str().unwrap();
    let split = state["customers"][4]["customerTenantId"].as_str().unwrap();
    let relationship = truth[covered]["relationships"][0]["id"].as_str().unwrap();
    let response = reqwest::Client::new()
        .post(server.url(&format!(
            "/_sim/gdap/relationships/{relationship}/terminate"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let split_relationship = &truth[split]["relationships"][0];
    let with_pra = split_relationship["accessAssignments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["status"] == "active"
                && a["accessDetails"]["unifiedRoles"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["roleDefinitionId"] == gdap::PRIVILEGED_ROLE_ADMINISTRATOR)
        })
        .unwrap();
    let response = reqwest::Client::new()
        .post(server.url(&format!(
            "/_sim/gdap/relationships/{}/accessAssignments/{}/delete",
            split_relationship["id"].as_str().unwrap(),
            with_pra["id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let graph = &server.state.graph;
    let now = time::OffsetDateTime::now_utc();
    let after = sim_truth(&server).await;
    for (tenant, was, is) in [
        (covered, Coverage::Covered, Coverage::None),
        (split, Coverage::Covered, Coverage::Partial),
    ] {
        assert_eq!(verdicts[tenant].coverage, was);
        let listing = graph
            .list_relationships_for_customer(&token, Guid::parse(tenant).unwrap())
            .await
            .unwrap();
        let models = graph
            .with_assignments(&token, &listing.items, false, 2, &|| {})
            .await
            .unwrap();
        let verdict = gdap::classify(&models.items, now);
        assert_eq!(verdict.coverage, is, "{:?}", verdict.reasons);
        assert_eq!(after[tenant]["expectedCoverage"], is.as_str());
    }
}

#[tokio::test]
async fn the_empty_list_trap_gives_unknown_for_everyone() {
    let server = TestServer::start().await;
    // Riley is not in Admin Agents: Graph answers 200 with nothing.
    let token = graph_token(&server, READER_UPN).await;
    let listing = server.state.graph.list_relationships(&token).await.unwrap();
    assert!(listing.items.is_empty());
    assert_eq!(listing.calls.len(), 1);
    let models: Vec<gdap::Relationship> = listing.items.iter().map(|r| r.to_model(&[])).collect();
    let verdict = gdap::partner_wide_unknown::<GraphError>(Ok(&models)).unwrap();
    assert_eq!(verdict.coverage, Coverage::Unknown);
    assert!(verdict.reasons[0].contains("Admin Agents"));
    // The simulator's truth has covered customers: "none" would have been a lie.
    let truth = sim_truth(&server).await;
    assert!(truth.values().any(|c| c["expectedCoverage"] == "covered"));
}

#[tokio::test]
async fn a_fractional_retry_after_is_honoured() {
    let server = TestServer::start().await;
    let token = graph_token(&server, ADMIN_UPN).await;
    let customer = server.sim_state().await["customers"][0]["customerTenantId"]
        .as_str()
        .unwrap()
        .to_string();
    let before = injected(&server.sim_state().await);
    server.simulator.set_faults(FaultConfig {
        error_rates: BTreeMap::from([(429, 1.0)]),
        retry_after: Some(1.5),
        max_faults: Some(1),
        path_contains: Some("/_sim/graph/".into()),
        ..FaultConfig::default()
    });
    let started = Instant::now();
    let listing = server
        .state
        .graph
        .list_relationships_for_customer(&token, Guid::parse(&customer).unwrap())
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(listing.items.len(), 1);
    assert_eq!(injected(&server.sim_state().await) - before, 1);
    // The backoff alone waits 0.2–0.4 s; a Retry-After read as whole seconds, 1 s.
    assert!(
        waited >= Duration::from_millis(1500),
        "waited only {waited:?} after Retry-After: 1.5"
    );
    assert!(waited < Duration::from_secs(5), "{waited:?}");

    // Throttled without end: bounded attempts, then Graph's error with its request-id.
    server.simulator.set_faults(FaultConfig {
        error_rates: BTreeMap::from([(503, 1.0)]),
        retry_after: Some(0.05),
        path_contains: Some("/_sim/graph/".into()),
        ..FaultConfig::default()
    });
    let before = injected(&server.sim_state().await);
    let error = server
        .state
        .graph
        .list_relationships_for_customer(&token, Guid::parse(&customer).unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        injected(&server.sim_state().await) - before,
        ATTEMPTS as u64
    );
    let GraphError::Status {
        status,
        code,
        request_id,
        ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(
        (*status, code.as_deref()),
        (503, Some("ServiceUnavailable"))
    );
    assert!(request_id.is_some());
    assert!(error
        .to_string()
        .starts_with("Microsoft Graph answered 503 ServiceUnavailable"));
    server.simulator.set_faults(FaultConfig::default());
}

#[tokio::test]
async fn an_invalid_relationship_id_never_reaches_a_url() {
    let server = TestServer::start().await;
    let token = graph_token(&server, ADMIN_UPN).await;
    for bad in [
        "../../delegatedAdminCustomers",
        "5d027261-d21f-4aa9-b7db-7fa1f56fb163",
        "5d027261-d21f-4aa9-b7db-7fa1f56fb163-8777b240-c6f0-4469-9e98-a3205431b83?",
    ] {
        assert!(matches!(
            RelationshipId::parse(bad),
            Err(AppError::InvalidInput(_))
        ));
    }
    // A relationship whose id is not one (a hostile or broken answer) is refused before any
    // call about it.
    let hostile: DelegatedAdminRelationship = serde_json::from_value(serde_json::json!({
        "id": "../../../delegatedAdminCustomers?x=",
        "status": "active",
        "customer": {"tenantId": "8777b240-c6f0-4469-9e98-a3205431b836"},
    }))
    .unwrap();
    let before = server.api_calls().await;
    let error = server
        .state
        .graph
        .with_assignments(&token, &[hostile], true, 1, &|| {})
        .await
        .unwrap_err();
    assert!(matches!(error, GraphError::Decode(_)), "{error:?}");
    assert_eq!(server.api_calls().await, before, "no call was made");
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused_and_means_sign_in_again() {
    let server = TestServer::start().await;
    server.sign_in(ADMIN_UPN).await;
    let pc_token = server
        .state
        .tokens
        .access_token(
            &server.user_key(ADMIN_UPN),
            &server.state.config.partner_center_audience,
        )
        .await
        .unwrap();
    let error = server
        .state
        .graph
        .list_relationships(&pc_token)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(401), "{error}");
    assert!(error.to_string().contains("audience"), "{error}");
    assert!(AppError::from(error).needs_sign_in());
}
