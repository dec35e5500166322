//! CPV consent for one customer: grant (presets and typed grants), "already exists", one-click
//! revoke and its undo, the read-only user's 403, bad input; every attempt audited.

use crate::common;

use common::{TestServer, ADMIN_UPN, HELPDESK_UPN};
use serde_json::Value;

const APP: &str = "6a6e8d43-7c1b-4f0e-9f5e-2b8a1c3d4e5f";

async fn first_customer(server: &TestServer) -> String {
    server.sim_state().await["customers"][1]["customerTenantId"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn sim_consents(server: &TestServer, customer: &str) -> Vec<Value> {
    server.sim_state().await["consents"][customer]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn audit_outcomes(server: &TestServer) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT actor_upn, action, outcome FROM audit_log WHERE action LIKE '%consent'
         ORDER BY at_ms, id",
    )
    .fetch_all(&server.state.storage.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn grant_revoke_and_undo() {
    let server = TestServer::start().await;
    let customer = first_customer(&server).await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let grant = |client: reqwest::Client| {
        let customer = customer.clone();
        let server = &server;
        async move {
            server
                .call_with(
                    &client,
                    "grant_consent",
                    &[
                        ("customer_tenant_id", customer.as_str()),
                        ("application_id", APP),
                        ("display_name", "Contoso CPV"),
                        ("preset_graph", "on"),
                        (
                            "grants",
                            "797f4846-ba00-4fd7-ba43-dac1f8f63013 user_impersonation",
                        ),
                    ],
                )
                .await
        }
    };
    let granted = grant(client.clone()).await;
    assert_eq!(granted.status(), 200, "{}", granted.text().await.unwrap());
    let consents = sim_consents(&server, &customer).await;
    assert_eq!(consents.len(), 1);
    assert_eq!(
        consents[0]["applicationGrants"].as_array().unwrap().len(),
        2
    );

    // A second grant meets "Permission entry already exists": still consented.
    let again = grant(client.clone()).await;
    assert_eq!(again.status(), 200);

    // The customers view shows the recorded consent.
    let (_, html) = server
        .page(&client, &format!("/customers?q={customer}"))
        .await;
    assert!(html.contains("data-consents=\"1\""));

    let args = [
        ("customer_tenant_id", customer.as_str()),
        ("application_id", APP),
    ];
    let revoked = server.call_with(&client, "revoke_consent", &args).await;
    assert_eq!(revoked.status(), 200);
    let record: Value = revoked.json().await.unwrap();
    assert_eq!(record["revoked_by"], ADMIN_UPN);
    assert_eq!(
        record["grants"].as_array().unwrap().len(),
        2,
        "kept for the undo"
    );
    assert!(sim_consents(&server, &customer).await.is_empty());

    let restored = server.call_with(&client, "restore_consent", &args).await;
    assert_eq!(restored.status(), 200);
    let consents = sim_consents(&server, &customer).await;
    assert_eq!(consents.len(), 1);
    assert_eq!(
        consents[0]["applicationGrants"].as_array().unwrap().len(),
        2
    );

    let outcomes: Vec<(String, String)> = audit_outcomes(&server)
        .await
        .into_iter()
        .map(|(_, action, outcome)| (action, outcome))
        .collect();
    let expected = [
        ("grant-consent", "succeeded"),
        ("grant-consent", "succeeded"),
        ("revoke-consent", "succeeded"),
        ("grant-consent", "succeeded"),
    ]
    .map(|(a, o)| (a.to_string(), o.to_string()));
    assert_eq!(outcomes, expected);
}

#[tokio::test]
async fn an_operator_without_a_consent_gdap_role_is_refused_and_audited() {
    let server = TestServer::start().await;
    let customer = first_customer(&server).await;
    let (helpdesk, _) = server.sign_in(HELPDESK_UPN).await;
    let response = server
        .call_with(
            &helpdesk,
            "grant_consent",
            &[
                ("customer_tenant_id", customer.as_str()),
                ("application_id", APP),
                ("display_name", ""),
                ("preset_graph", "on"),
            ],
        )
        .await;
    assert_eq!(response.status(), 403);
    let text = response.text().await.unwrap();
    assert!(text.contains("Cloud Application Administrator"), "{text}");
    assert!(sim_consents(&server, &customer).await.is_empty());
    assert_eq!(
        audit_outcomes(&server).await,
        [(
            HELPDESK_UPN.to_string(),
            "grant-consent".to_string(),
            "refused".to_string()
        )]
    );
}

#[tokio::test]
async fn bad_input_is_refused_before_any_upstream_call() {
    let server = TestServer::start().await;
    let customer = first_customer(&server).await;
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let before = server.api_calls().await;
    for args in [
        vec![
            ("customer_tenant_id", customer.as_str()),
            ("application_id", "not-a-guid"),
            ("display_name", ""),
            ("preset_graph", "on"),
        ],
        vec![
            ("customer_tenant_id", customer.as_str()),
            ("application_id", APP),
            ("display_name", ""),
        ],
        vec![
            ("customer_tenant_id", customer.as_str()),
            ("application_id", APP),
            ("display_name", ""),
            ("grants", "../etc user_impersonation"),
        ],
    ] {
        let response = server.call_with(&client, "grant_consent", &args).await;
        assert_eq!(response.status(), 400, "{args:?}");
    }
    assert_eq!(server.api_calls().await, before);
}

#[tokio::test]
async fn applications_granted_before_are_offered_by_name_and_grants_by_resource() {
    let server = TestServer::start().await;
    let state = server.sim_state().await;
    let customer = |i: usize| {
        state["customers"][i]["customerTenantId"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (first, second) = (customer(1), customer(2));
    let (client, _) = server.sign_in(ADMIN_UPN).await;
    let grant = |customer: String, name: &'static str| {
        let (server, client) = (&server, client.clone());
        async move {
            let response = server
                .call_with(
                    &client,
                    "grant_consent",
                    &[
                        ("customer_tenant_id", customer.as_str()),
                        ("application_id", APP),
                        ("display_name", name),
                        ("preset_graph", "on"),
                        ("preset_exchange", "on"),
                    ],
                )
                .await;
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    grant(first, "Contoso CPV").await;
    // Granted elsewhere with the name left empty: the name given before is kept.
    let record = grant(second.clone(), "").await;
    assert_eq!(record["display_name"], "Contoso CPV");

    let (status, html) = server.page(&client, &format!("/customers/{second}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(&format!(
            r#"<option value="{APP}" label="Contoso CPV"></option>"#
        )),
        "the application is offered by name"
    );
    assert!(html.contains(r#"list="known-applications""#));
    assert!(
        html.contains("Microsoft Graph: Directory.Read.All, User.Read.All"),
        "grants by resource name"
    );
    assert!(html.contains("Exchange Online: Exchange.Manage"));
    assert!(
        html.contains(&format!("granted by {ADMIN_UPN} at <time datetime=")),
        "the time of the grant in the one format, with its zone"
    );
    // The bulk form offers it too.
    let (_, bulk) = server.page(&client, "/jobs/new?dap=on").await;
    assert!(bulk.contains(&format!(r#"<option value="{APP}" label="Contoso CPV">"#)));
}
