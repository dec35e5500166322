//! The simulator itself: construction speed and determinism, fault injection, control
//! endpoints and the state document.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::body::Body;
use http::{Method, Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;

use super::*;
use crate::FaultConfig;

#[test]
fn same_seed_gives_the_same_world_and_large_worlds_start_fast() {
    let a = Simulator::new(config(500));
    let b = Simulator::new(config(500));
    let names = |s: &Simulator| -> Vec<(String, String, bool)> {
        s.inner
            .store
            .lock()
            .customers()
            .iter()
            .map(|c| {
                (
                    c.tenant_id.to_string(),
                    c.display_name.clone(),
                    c.dap_enabled,
                )
            })
            .collect()
    };
    assert_eq!(names(&a), names(&b));
    let id = a.inner.store.lock().customers()[7].tenant_id;
    let da = a.inner.store.lock().directory(&id).cloned();
    let db = b.inner.store.lock().directory(&id).cloned();
    assert_eq!(da, db);
    let mut other = config(500);
    other.seed = 43;
    assert_ne!(names(&Simulator::new(other)), names(&a));

    let started = Instant::now();
    let big = Simulator::new(config(100_000));
    let elapsed = started.elapsed();
    eprintln!("100 000 customers built in {elapsed:?}");
    assert_eq!(big.inner.store.lock().customers().len(), 100_000);
    // About 0.2 s in a debug build here; generous for a loaded CI machine.
    assert!(
        elapsed.as_millis() < 3000,
        "100 000 customers took {elapsed:?}"
    );
    assert_eq!(big.inner.store.lock().materialised().count(), 0);
}

#[test]
fn out_of_range_settings_are_clamped() {
    let mut cfg = config(0);
    cfg.faults.drop_rate = 7.0;
    let sim = Simulator::new(cfg);
    assert_eq!(sim.inner.store.lock().customers().len(), 1);
    assert_eq!(sim.faults(), FaultConfig::default());
    sim.set_faults(FaultConfig {
        error_rates: BTreeMap::from([(200, 1.0)]),
        ..FaultConfig::default()
    });
    assert_eq!(sim.faults(), FaultConfig::default());
    assert_eq!(sim.demo_users().len(), 5);
}

#[tokio::test]
async fn injected_errors_use_each_hosts_shape() {
    let t = TestSim::small();
    let pc_token = t.pc_token(ADMIN).await;
    let admin_token = t.admin_token(ADMIN).await;
    let customer = t.customer_ids()[0].clone();
    let roles = format!("{PC}/customers/{customer}/directoryroles");

    t.sim.set_faults(FaultConfig {
        error_rates: BTreeMap::from([(500, 1.0)]),
        ..FaultConfig::default()
    });
    for _ in 0..5 {
        let r = t.get(&roles, Some(&pc_token)).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(pc_error_code(&r), "500");
        assert!(r.header("ms-requestid").is_some());
    }
    let r = t.get(ADMIN_LIST, Some(&admin_token)).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    odata_error_message(&r);
    // Sign-in is never faulted.
    assert_eq!(
        t.sign_in(READER, PC_SCOPE).await.body["token_type"],
        "Bearer"
    );

    t.sim.set_faults(FaultConfig {
        error_rates: BTreeMap::from([(429, 1.0)]),
        ..FaultConfig::default()
    });
    let r = t.get(&roles, Some(&pc_token)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.json()["statusCode"], 429);
    assert_eq!(
        r.json()["message"],
        "Rate limit is exceeded. Try again in 1 seconds."
    );

    // Only matching paths are affected; rate 0 never fires.
    t.sim.set_faults(FaultConfig {
        error_rates: BTreeMap::from([(503, 1.0)]),
        path_contains: Some("applicationconsents".to_owned()),
        ..FaultConfig::default()
    });
    assert_eq!(t.get(&roles, Some(&pc_token)).await.status, StatusCode::OK);
    t.sim.set_faults(FaultConfig {
        error_rates: BTreeMap::from([(500, 0.0)]),
        ..FaultConfig::default()
    });
    for _ in 0..20 {
        assert_eq!(t.get(&roles, Some(&pc_token)).await.status, StatusCode::OK);
    }
    let counters = &t.state().await["counters"];
    assert_eq!(counters["injectedFaults"], 7);
    assert!(counters["apiCalls"].as_u64().unwrap() >= 28);
}

#[tokio::test]
async fn dropped_connections_break_the_body() {
    let t = TestSim::small();
    let token = t.pc_token(ADMIN).await;
    let customer = t.customer_ids()[0].clone();
    t.sim.set_faults(FaultConfig {
        drop_rate: 1.0,
        ..FaultConfig::default()
    });
    let request = Request::get(format!("{PC}/customers/{customer}/directoryroles"))
        .header("Authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let response = t.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .is_err());
}

#[tokio::test]
async fn faults_can_be_read_and_replaced_over_http() {
    let t = TestSim::small();
    let current = t.get("/_sim/faults", None).await.json();
    assert_eq!(current["drop_rate"], 0.0);
    let put = t
        .call(
            Method::PUT,
            "/_sim/faults",
            None,
            Some(json!({"latency_ms": 1, "error_rates": {"500": 0.25}, "path_contains": "users"})),
            None,
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    assert_eq!(t.sim.faults().error_rates.get(&500), Some(&0.25));
    assert_eq!(t.get("/_sim/faults", None).await.json()["latency_ms"], 1);
    for bad in [
        json!({"drop_rate": 2}),
        json!({"error_rates": {"200": 0.5}}),
        json!({"nope": 1}),
    ] {
        let r = t
            .call(Method::PUT, "/_sim/faults", None, Some(bad.clone()), None)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(t.sim.faults().error_rates.get(&500), Some(&0.25));
}

#[tokio::test]
async fn state_document_has_the_documented_shape() {
    let t = TestSim::small();
    let ids = t.customer_ids();
    let state = t
        .get(
            &format!("/_sim/state?customer={}&customer={}", ids[5], ids[6]),
            None,
        )
        .await;
    assert_eq!(state.status, StatusCode::OK);
    let state = state.json();
    let customers = state["customers"].as_array().unwrap();
    assert_eq!(customers.len(), 60);
    for key in [
        "customerTenantId",
        "organizationDisplayName",
        "dapEnabled",
        "lastSignInDateTime",
    ] {
        assert!(customers[0].get(key).is_some(), "{key}");
    }
    assert!(state["consents"].is_object());
    let role_members = state["roleMembers"].as_object().unwrap();
    assert_eq!(role_members.len(), 2);
    let ga = crate::data::GLOBAL_ADMINISTRATOR.to_string();
    assert!(!role_members[&ids[5]][&ga].as_array().unwrap().is_empty());
    assert!(state["writes"].is_object());
    for key in [
        "authorizationCodeGrants",
        "refreshTokenGrants",
        "throttled",
        "injectedFaults",
        "apiCalls",
    ] {
        assert!(state["counters"][key].is_u64(), "{key}");
    }
    assert_eq!(
        t.get("/_sim/state?customer=nope", None).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn index_page_documents_endpoints_and_users() {
    let t = TestSim::small();
    let page = t.get("/_sim/", None).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("delegatedAdminCustomers"));
    assert!(html.contains("applicationconsents"));
    for user in t.sim.demo_users() {
        assert!(html.contains(&user.upn));
    }
}

#[tokio::test]
async fn router_merges_into_an_app_with_its_own_fallback() {
    let t = TestSim::small();
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "app" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "app 404") })
        .merge(t.sim.router());
    let response = app
        .clone()
        .oneshot(Request::get("/_sim/faults").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .oneshot(Request::get("/elsewhere").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    assert_eq!(&body[..], b"app 404");
}

/// One raw HTTP/1.1 exchange; returns what the server sent before closing.
async fn raw_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    // A reset connection may end the read with an error after some bytes arrived.
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn standalone_server_answers_over_tcp_and_drops_connections() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = url::Url::parse(&format!("http://{addr}")).unwrap();
    let mut cfg = crate::SimConfig::demo(base);
    cfg.customers = 5;
    cfg.faults.drop_rate = 1.0;
    let server = tokio::spawn(crate::serve_standalone(cfg, listener));

    let response = raw_get(addr, "/_sim/faults").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("drop_rate"));

    // The API answer starts (status and headers) but its chunked body never completes.
    let response = raw_get(addr, "/_sim/partnercenter/v1/customers/x/nothing").await;
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    assert!(response.to_ascii_lowercase().contains("ms-requestid"));
    assert!(!response.ends_with("0\r\n\r\n"), "{response:?}");
    server.abort();
}

#[tokio::test]
async fn added_latency_applies_only_to_matching_paths() {
    let t = TestSim::small();
    let pc_token = t.pc_token(ADMIN).await;
    let customer = t.customer_ids()[0].clone();
    let roles = format!("{PC}/customers/{customer}/directoryroles");
    t.sim.set_faults(FaultConfig {
        latency_ms: 2_000,
        path_contains: Some("applicationconsents".to_owned()),
        ..FaultConfig::default()
    });
    let started = std::time::Instant::now();
    assert_eq!(t.get(&roles, Some(&pc_token)).await.status, StatusCode::OK);
    assert!(
        started.elapsed() < std::time::Duration::from_millis(1_000),
        "a read outside path_contains waited {:?}",
        started.elapsed()
    );
    t.sim.set_faults(FaultConfig {
        latency_ms: 300,
        path_contains: Some("directoryroles".to_owned()),
        ..FaultConfig::default()
    });
    let started = std::time::Instant::now();
    assert_eq!(t.get(&roles, Some(&pc_token)).await.status, StatusCode::OK);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
}
