//! Partner Center REST endpoints: authentication, roles, members, users, consents, DAP removal,
//! rate limiting and idempotency.

use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use super::*;
use crate::data::{GLOBAL_ADMINISTRATOR, GLOBAL_READER};

const GRAPH: &str = "00000003-0000-0000-c000-000000000000";

fn consent_body(app: &str) -> Value {
    json!({
        "applicationId": app,
        "displayName": "Contoso CPV",
        "applicationGrants": [
            {"enterpriseApplicationId": GRAPH, "scope": "Directory.Read.All,User.Read.All"}
        ]
    })
}

/// A user of the customer who is not in the given role.
async fn non_member(t: &TestSim, token: &str, customer: &str, role: &Uuid) -> Value {
    let users = t
        .get(&format!("{PC}/customers/{customer}/users"), Some(token))
        .await
        .json();
    let members = t
        .get(
            &format!("{PC}/customers/{customer}/directoryroles/{role}/usermembers"),
            Some(token),
        )
        .await
        .json();
    let member_ids: Vec<&Value> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["id"])
        .collect();
    users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| !member_ids.contains(&&u["id"]))
        .cloned()
        .expect("a customer with a user outside the role")
}

fn member_body(user: &Value) -> Value {
    json!({
        "Id": user["id"],
        "DisplayName": user["displayName"],
        "UserPrincipalName": user["userPrincipalName"],
        "Attributes": {"ObjectType": "UserMember"}
    })
}

#[tokio::test]
async fn tokens_must_match_the_api_audience() {
    let t = TestSim::small();
    let customer = &t.customer_ids()[0];
    let roles = format!("{PC}/customers/{customer}/directoryroles");

    let missing = t.get(&roles, None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(pc_error_code(&missing), "800001");

    let admin_token = t.admin_token(ADMIN).await;
    let wrong = t.get(&roles, Some(&admin_token)).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(pc_error_code(&wrong), "800001");
    assert_eq!(wrong.json()["source"], "PartnerFD");
    assert!(wrong.json()["description"]
        .as_str()
        .unwrap()
        .contains("audience"));
    let challenge = wrong.header("www-authenticate").unwrap();
    assert!(challenge.starts_with("Bearer realm="), "{challenge}");
    assert!(challenge.contains("invalid_token"));

    let pc_token = t.pc_token(ADMIN).await;
    let on_admin = t.get(ADMIN_LIST, Some(&pc_token)).await;
    assert_eq!(on_admin.status, StatusCode::UNAUTHORIZED);
    assert!(odata_error_message(&on_admin).contains("audience"));

    assert_eq!(t.get(&roles, Some(&pc_token)).await.status, StatusCode::OK);
    assert_eq!(
        t.get(&roles, Some("not.a.jwt")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn expired_tokens_are_rejected() {
    let mut cfg = config(10);
    cfg.access_token_lifetime = Duration::ZERO;
    let t = TestSim::new(cfg);
    let token = t.pc_token(ADMIN).await;
    let customer = &t.customer_ids()[0];
    let response = t
        .get(
            &format!("{PC}/customers/{customer}/directoryroles"),
            Some(&token),
        )
        .await;
    assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    assert_eq!(pc_error_code(&response), "800001");
    assert!(response.json()["description"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let t = TestSim::small();
    let token = t.pc_token(ADMIN).await;
    let customer = &t.customer_ids()[0];
    let request = http::Request::get(format!("{PC}/customers/{customer}/directoryroles"))
        .header("Authorization", format!("Bearer {token}"))
        .header("MS-RequestId", "b1317092-f087-471e-a637-f66523b2b94c")
        .header("MS-CorrelationId", "8a53b025-d5be-4d98-ab20-229d1813de76")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = t.send(request).await;
    assert_eq!(
        response.header("ms-requestid"),
        Some("b1317092-f087-471e-a637-f66523b2b94c")
    );
    assert_eq!(
        response.header("ms-correlationid"),
        Some("8a53b025-d5be-4d98-ab20-229d1813de76")
    );
    assert!(response.header("ms-cv").is_some());
    assert!(response.header("ms-serverid").is_some());

    // Generated when absent, also on errors.
    let response = t
        .get(&format!("{PC}/customers/{customer}/directoryroles"), None)
        .await;
    assert!(Uuid::parse_str(response.header("ms-requestid").unwrap()).is_ok());
    assert!(Uuid::parse_str(response.header("ms-correlationid").unwrap()).is_ok());
    let response = t.get(ADMIN_LIST, None).await;
    assert!(response.header("ms-requestid").is_some());
}

#[tokio::test]
async fn roles_users_and_members_have_the_documented_shapes() {
    let t = TestSim::small();
    let token = t.pc_token(READER).await;
    let customer = t.customer_ids()[3].clone();

    let roles = t
        .get(
            &format!("{PC}/customers/{customer}/directoryroles"),
            Some(&token),
        )
        .await;
    assert_eq!(roles.status, StatusCode::OK);
    let roles = roles.json();
    assert_eq!(roles["attributes"]["objectType"], "Collection");
    assert_eq!(
        roles["totalCount"],
        roles["items"].as_array().unwrap().len()
    );
    assert_eq!(roles["links"]["self"]["method"], "GET");
    let first = &roles["items"][0];
    assert_eq!(first["name"], "Global Administrator");
    assert_eq!(first["id"], GLOBAL_ADMINISTRATOR.to_string());
    assert_eq!(first["attributes"]["objectType"], "DirectoryRole");

    let members = t
        .get(
            &format!("{PC}/customers/{customer}/directoryroles/{GLOBAL_ADMINISTRATOR}/usermembers"),
            Some(&token),
        )
        .await
        .json();
    let member = &members["items"][0];
    assert_eq!(member["roleId"], GLOBAL_ADMINISTRATOR.to_string());
    assert_eq!(member["attributes"]["objectType"], "UserMember");
    assert!(member["userPrincipalName"].as_str().unwrap().contains('@'));
    let user_id = member["id"].as_str().unwrap();

    let user_roles = t
        .get(
            &format!("{PC}/customers/{customer}/users/{user_id}/directoryroles"),
            Some(&token),
        )
        .await
        .json();
    assert!(user_roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == GLOBAL_ADMINISTRATOR.to_string()));

    let users = t
        .get(&format!("{PC}/customers/{customer}/users"), Some(&token))
        .await
        .json();
    let items = users["items"].as_array().unwrap();
    assert!((4..=12).contains(&items.len()));
    for u in items {
        for key in [
            "id",
            "userPrincipalName",
            "firstName",
            "lastName",
            "displayName",
            "userDomainType",
        ] {
            assert!(u[key].is_string(), "{key} in {u}");
        }
        assert_eq!(u["state"], "active");
        assert_eq!(u["attributes"]["objectType"], "CustomerUser");
    }
    assert!(users["links"].get("next").is_none());

    // Paging with size and the continuation header.
    let page = t
        .get(
            &format!("{PC}/customers/{customer}/users?size=3"),
            Some(&token),
        )
        .await
        .json();
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let next = &page["links"]["next"];
    assert_eq!(next["headers"][0]["key"], "MS-ContinuationToken");
    let request = http::Request::get(format!("{PC}{}", next["uri"].as_str().unwrap()))
        .header("Authorization", format!("Bearer {token}"))
        .header(
            "MS-ContinuationToken",
            next["headers"][0]["value"].as_str().unwrap(),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let second = t.send(request).await.json();
    assert_eq!(second["items"][0]["id"], items[3]["id"]);
}

#[tokio::test]
async fn unknown_ids_and_bad_input_get_documented_errors() {
    let t = TestSim::small();
    let token = t.pc_token(ADMIN).await;
    let customer = t.customer_ids()[0].clone();
    let unknown = Uuid::new_v4();

    let cases = [
        (
            format!("{PC}/customers/{unknown}/directoryroles"),
            StatusCode::NOT_FOUND,
            Some("60003"),
        ),
        (
            format!("{PC}/customers/{customer}/directoryroles/{unknown}/usermembers"),
            StatusCode::NOT_FOUND,
            Some("1000"),
        ),
        (
            format!("{PC}/customers/{customer}/users/{unknown}/directoryroles"),
            StatusCode::NOT_FOUND,
            Some("60002"),
        ),
        (
            format!("{PC}/customers/not-a-guid/directoryroles"),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            format!("{PC}/customers/{customer}/nothing-here"),
            StatusCode::NOT_FOUND,
            None,
        ),
    ];
    for (url, status, code) in cases {
        let r = t.get(&url, Some(&token)).await;
        assert_eq!(r.status, status, "{url}");
        let actual = pc_error_code(&r);
        if let Some(code) = code {
            assert_eq!(actual, code, "{url}");
        }
    }
    let r = t
        .call(
            Method::PUT,
            &format!("{PC}/customers/{customer}/directoryroles"),
            Some(&token),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    pc_error_code(&r);

    let members = format!("{PC}/customers/{customer}/directoryroles/{GLOBAL_READER}/usermembers");
    // Malformed JSON, missing fields, wrong object type, too large.
    let raw = http::Request::post(&members)
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .body(axum::body::Body::from("{\"Id\": "))
        .unwrap();
    let r = t.send(raw).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(pc_error_code(&r), "800002");
    for body in [
        json!({"Id": unknown, "DisplayName": "x", "UserPrincipalName": "x@y"}),
        json!({"Id": unknown, "DisplayName": "x", "Attributes": {"ObjectType": "UserMember"}}),
        json!({"Id": "nope", "DisplayName": "x", "UserPrincipalName": "x@y", "Attributes": {"ObjectType": "UserMember"}}),
        json!({"Id": unknown, "DisplayName": "x", "UserPrincipalName": "x@y", "Attributes": {"ObjectType": "Other"}}),
        json!([1, 2]),
    ] {
        let r = t
            .call(
                Method::POST,
                &members,
                Some(&token),
                Some(body.clone()),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        pc_error_code(&r);
    }
    let huge = json!({"Id": "x".repeat(70_000)});
    let r = t
        .call(Method::POST, &members, Some(&token), Some(huge), None)
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    pc_error_code(&r);
    // A user that does not exist in the customer.
    let body = json!({"id": unknown, "displayName": "x", "userPrincipalName": "x@y", "attributes": {"objectType": "UserMember"}});
    let r = t
        .call(Method::POST, &members, Some(&token), Some(body), None)
        .await;
    assert_eq!(
        (r.status, pc_error_code(&r).as_str()),
        (StatusCode::NOT_FOUND, "60002")
    );
}

#[tokio::test]
async fn adding_and_removing_role_members() {
    let t = TestSim::small();
    let admin = t.pc_token(ADMIN).await;
    let reader = t.pc_token(READER).await;
    let customer = t.customer_ids()[1].clone();
    let user = non_member(&t, &admin, &customer, &GLOBAL_ADMINISTRATOR).await;
    let members =
        format!("{PC}/customers/{customer}/directoryroles/{GLOBAL_ADMINISTRATOR}/usermembers");

    let forbidden = t
        .call(
            Method::POST,
            &members,
            Some(&reader),
            Some(member_body(&user)),
            None,
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(pc_error_code(&forbidden), "900150");
    assert!(forbidden.json()["description"]
        .as_str()
        .unwrap()
        .contains("Privileged Role Administrator"));

    let created = t
        .call(
            Method::POST,
            &members,
            Some(&admin),
            Some(member_body(&user)),
            None,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let body = created.json();
    assert_eq!(body["id"], user["id"]);
    assert_eq!(body["roleId"], GLOBAL_ADMINISTRATOR.to_string());
    assert_eq!(body["userPrincipalName"], user["userPrincipalName"]);
    assert_eq!(body["displayName"], user["displayName"]);
    assert_eq!(body["attributes"]["objectType"], "UserMember");

    let listed = t.get(&members, Some(&reader)).await.json();
    assert!(listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == user["id"]));
    let state = t.state().await;
    let role_members = &state["roleMembers"][&customer][GLOBAL_ADMINISTRATOR.to_string()];
    assert!(role_members.as_array().unwrap().contains(&user["id"]));

    let again = t
        .call(
            Method::POST,
            &members,
            Some(&admin),
            Some(member_body(&user)),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    pc_error_code(&again);

    let one = format!("{members}/{}", user["id"].as_str().unwrap());
    let r = t
        .call(Method::DELETE, &one, Some(&reader), None, None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = t.call(Method::DELETE, &one, Some(&admin), None, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.body.is_empty());
    let r = t.call(Method::DELETE, &one, Some(&admin), None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let listed = t.get(&members, Some(&reader)).await.json();
    assert!(!listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == user["id"]));
}

#[tokio::test]
async fn consents_conflict_and_validate() {
    let t = TestSim::small();
    let admin = t.pc_token(ADMIN).await;
    let reader = t.pc_token(READER).await;
    let customer = t.customer_ids()[2].clone();
    let path = format!("{PC}/customers/{customer}/applicationconsents");
    let app = Uuid::new_v4().to_string();

    let r = t
        .call(
            Method::POST,
            &path,
            Some(&reader),
            Some(consent_body(&app)),
            None,
        )
        .await;
    assert_eq!(
        (r.status, pc_error_code(&r).as_str()),
        (StatusCode::FORBIDDEN, "900150")
    );

    let created = t
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(consent_body(&app)),
            None,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.json()["applicationId"], app);
    assert_eq!(
        created.json()["applicationGrants"][0]["scope"],
        "Directory.Read.All,User.Read.All"
    );

    let twice = t
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(consent_body(&app)),
            None,
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert!(twice.json()["description"]
        .as_str()
        .unwrap()
        .contains("Permission entry already exists"));

    let state = t.state().await;
    assert_eq!(state["consents"][&customer][0]["applicationId"], app);
    assert_eq!(
        state["consents"][&customer][0]["displayName"],
        "Contoso CPV"
    );

    for bad in [
        json!({"displayName": "x", "applicationGrants": [{"enterpriseApplicationId": GRAPH, "scope": "a"}]}),
        json!({"applicationId": "nope", "applicationGrants": [{"enterpriseApplicationId": GRAPH, "scope": "a"}]}),
        json!({"applicationId": app, "applicationGrants": []}),
        json!({"applicationId": app, "applicationGrants": [{"enterpriseApplicationId": "x", "scope": "a"}]}),
        json!({"applicationId": app, "applicationGrants": [{"enterpriseApplicationId": GRAPH, "scope": ""}]}),
        json!({"applicationId": app}),
    ] {
        let r = t
            .call(Method::POST, &path, Some(&admin), Some(bad.clone()), None)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        pc_error_code(&r);
    }

    let one = format!("{path}/{app}");
    assert_eq!(
        t.call(Method::DELETE, &one, Some(&admin), None, None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        t.call(Method::DELETE, &one, Some(&admin), None, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let unknown = format!("{PC}/customers/{}/applicationconsents", Uuid::new_v4());
    let r = t
        .call(
            Method::POST,
            &unknown,
            Some(&admin),
            Some(consent_body(&app)),
            None,
        )
        .await;
    assert_eq!(
        (r.status, pc_error_code(&r).as_str()),
        (StatusCode::NOT_FOUND, "60003")
    );
}

#[tokio::test]
async fn consent_calls_are_rate_limited_per_application() {
    let t = TestSim::new(config(60));
    let admin = t.pc_token(ADMIN).await;
    let customers = t.customer_ids();
    let app = Uuid::new_v4().to_string();
    for (i, customer) in customers.iter().take(50).enumerate() {
        let path = format!("{PC}/customers/{customer}/applicationconsents");
        let r = t
            .call(
                Method::POST,
                &path,
                Some(&admin),
                Some(consent_body(&app)),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "call {i}");
    }
    let path = format!("{PC}/customers/{}/applicationconsents/{app}", customers[0]);
    let throttled = t
        .call(Method::DELETE, &path, Some(&admin), None, None)
        .await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = throttled.header("retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1);
    let body = throttled.json();
    assert_eq!(body["statusCode"], 429);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("Rate limit is exceeded. Try again in"));

    // Another application is not affected.
    let other = format!("{PC}/customers/{}/applicationconsents", customers[0]);
    let r = t
        .call(
            Method::POST,
            &other,
            Some(&admin),
            Some(consent_body(&Uuid::new_v4().to_string())),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(t.state().await["counters"]["throttled"], 1);
}

#[tokio::test]
async fn writes_are_idempotent_per_request_id() {
    let t = TestSim::small();
    let admin = t.pc_token(ADMIN).await;
    let customer = t.customer_ids()[4].clone();
    let path = format!("{PC}/customers/{customer}/applicationconsents");
    let app = Uuid::new_v4().to_string();
    let request_id = "6a1d6a4f-6a1d-4a1d-8a1d-6a1d6a1d6a1d";

    let first = t
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(consent_body(&app)),
            Some(request_id),
        )
        .await;
    let second = t
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(consent_body(&app)),
            Some(request_id),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(second.status, first.status);
    assert_eq!(second.body, first.body);
    assert_eq!(second.header("ms-requestid"), Some(request_id));

    let state = t.state().await;
    let write = &state["writes"][request_id];
    assert_eq!(write["received"], 2);
    assert_eq!(write["applied"], 1);
    assert_eq!(write["method"], "POST");
    assert_eq!(write["path"], path);
    assert_eq!(state["consents"][&customer].as_array().unwrap().len(), 1);

    // A new request id is a new operation: now a conflict.
    let third = t
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(consent_body(&app)),
            None,
        )
        .await;
    assert_eq!(third.status, StatusCode::CONFLICT);

    // The same id for a different operation is refused.
    let other = format!("{path}/{app}");
    let r = t
        .call(Method::DELETE, &other, Some(&admin), None, Some(request_id))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // A fault answered before the write stores nothing: the retry is applied once.
    t.sim.set_faults(crate::FaultConfig {
        error_rates: [(500, 1.0)].into(),
        ..Default::default()
    });
    let retry_id = "7b2e7b5a-7b2e-4b2e-9b2e-7b2e7b2e7b2e";
    let app2 = Uuid::new_v4().to_string();
    let failed = t
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(consent_body(&app2)),
            Some(retry_id),
        )
        .await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    t.sim.set_faults(crate::FaultConfig::default());
    let ok = t
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(consent_body(&app2)),
            Some(retry_id),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    let write = &t.state().await["writes"][retry_id];
    assert_eq!(
        (write["received"].as_u64(), write["applied"].as_u64()),
        (Some(2), Some(1))
    );
}

#[tokio::test]
async fn removing_dap_updates_the_admin_list() {
    let t = TestSim::small();
    let admin = t.pc_token(ADMIN).await;
    let reader = t.pc_token(READER).await;
    let admin_api = t.admin_token(ADMIN).await;
    let list = t
        .get(
            &format!("{ADMIN_LIST}?$filter=dapEnabled%20eq%20true&$top=1"),
            Some(&admin_api),
        )
        .await
        .json();
    let customer = list["value"][0]["customerTenantId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(list["value"][0]["endDateTime"], Value::Null);
    let path = format!("{PC}/customers/{customer}");
    let body = json!({"AllowDelegatedAccess": false, "attributes": {"objectType": "Customer"}});

    let r = t
        .call(
            Method::PATCH,
            &path,
            Some(&reader),
            Some(body.clone()),
            None,
        )
        .await;
    assert_eq!(
        (r.status, pc_error_code(&r).as_str()),
        (StatusCode::FORBIDDEN, "900308")
    );
    for bad in [
        json!({"AllowDelegatedAccess": true, "attributes": {"objectType": "Customer"}}),
        json!({"AllowDelegatedAccess": false}),
        json!({"AllowDelegatedAccess": false, "attributes": {"objectType": "Customer"}, "companyProfile": {}}),
        json!({"billingProfile": {}}),
    ] {
        let r = t
            .call(Method::PATCH, &path, Some(&admin), Some(bad.clone()), None)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }

    let r = t
        .call(Method::PATCH, &path, Some(&admin), Some(body), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let resource = r.json();
    assert_eq!(resource["id"], customer);
    assert_eq!(resource["allowDelegatedAccess"], false);
    assert_eq!(resource["companyProfile"]["tenantId"], customer);
    assert!(resource["companyProfile"]["companyName"].is_string());
    assert_eq!(resource["attributes"]["objectType"], "Customer");

    let filter = format!("customerTenantId%20eq%20%27{customer}%27");
    let after = t
        .get(&format!("{ADMIN_LIST}?$filter={filter}"), Some(&admin_api))
        .await
        .json();
    assert_eq!(after["value"][0]["dapEnabled"], false);
    assert!(after["value"][0]["endDateTime"].is_string());
    let state = t.state().await;
    let entry = state["customers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["customerTenantId"] == customer.as_str())
        .unwrap();
    assert_eq!(entry["dapEnabled"], false);
}
