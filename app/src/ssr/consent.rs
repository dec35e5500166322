//! CPV application consent for one customer: grant, revoke, and restore what was revoked.
//! Partner Center has no read of consents, so the dashboard's record (written in the same
//! transaction as the audit entry) is the only list there is. Before the call, the record is
//! marked pending in the same transaction as the audit attempt; after it, both are settled
//! together. A crash in between leaves a pending record and an "attempted" entry, which the
//! admin settles by granting or revoking again (both are idempotent upstream).

use super::audit::{self, Entry};
use super::auth::SessionUser;
use super::clock::{now_ms, rfc3339_of_ms};
use super::partner_center::{retrying, CallIds, PartnerCenterClient, UpstreamError};
use super::state::AppState;
use crate::error::AppError;
use crate::ids::Guid;
use crate::model::consent::{ConsentRecord, Grant, KnownApplication};
use reqwest::Method;
use serde_json::json;
use sqlx::Row;
use std::collections::HashMap;

const CONSENT_ROLES: &str =
    "Privileged Role Administrator, Cloud Application Administrator or Application Administrator";

/// What a refused consent call needs, for the error shown to the admin.
pub fn needed_roles(granting: bool) -> String {
    let verb = if granting { "Granting" } else { "Removing" };
    format!("{verb} consent needs one of the GDAP roles {CONSENT_ROLES} in this customer.")
}

/// Partner Center refuses a second grant with "Permission entry already exists": the consent
/// is in place, which is what the admin asked for.
pub fn already_exists(error: &UpstreamError) -> bool {
    match error {
        UpstreamError::Status {
            status, message, ..
        } => *status == 409 || message.contains("Permission entry already exists"),
        _ => false,
    }
}

/// The admin's Partner Center token; when there is none (sign-in expired), the attempt is
/// audited as failed.
async fn token_or_audit(
    state: &AppState,
    user: &SessionUser,
    entry: &Entry,
) -> Result<super::auth::AccessToken, AppError> {
    match state
        .tokens
        .access_token(&user.user_key, &state.config.partner_center_audience)
        .await
    {
        Ok(token) => Ok(token),
        Err(error) => {
            audit::record(&state.storage, &entry.clone().failed(error.to_string())).await?;
            Err(error)
        }
    }
}

pub async fn grant(
    state: &AppState,
    user: &SessionUser,
    customer: Guid,
    application: Guid,
    display_name: &str,
    grants: &[Grant],
) -> Result<ConsentRecord, AppError> {
    for grant in grants {
        Guid::parse(&grant.enterprise_application_id)?;
    }
    let mut entry = Entry::new(&user.upn, "grant-consent")
        .customer(customer)
        .target(format!("application {application}"));
    let token = token_or_audit(state, user, &entry).await?;
    let body = grant_body(application, display_name, grants);
    let ids = CallIds::new(Guid::new_v4());
    entry = entry.call(&ids);
    let existed = record_of(state, customer, application).await?.is_some();
    let mut tx = state.storage.pool.begin().await?;
    mark_grant_pending(
        &mut tx,
        customer,
        application,
        display_name,
        grants,
        &user.upn,
    )
    .await?;
    let attempt = audit::begin(&mut *tx, &entry).await?;
    tx.commit().await?;

    let pc = &state.partner_center;
    let url = grant_url(pc, customer);
    let result = retrying(|| pc.send(&token, Method::POST, url.clone(), &ids, Some(&body))).await;
    let already = result.as_ref().err().is_some_and(already_exists);
    entry = entry.result(&result, 201);
    if already {
        entry = entry.succeeded_with_note("already consented");
    }
    let mut tx = state.storage.pool.begin().await?;
    if let (Err(error), false) = (result, already) {
        // Not granted: the record returns to what it was before the attempt.
        clear_pending(&mut tx, customer, application, existed).await?;
        audit::complete(&mut tx, &attempt, &entry).await?;
        tx.commit().await?;
        return Err(AppError::from(error).explain_forbidden(&needed_roles(true)));
    }
    store_grant(
        &mut tx,
        customer,
        application,
        display_name,
        grants,
        &user.upn,
    )
    .await?;
    audit::complete(&mut tx, &attempt, &entry).await?;
    tx.commit().await?;
    record_of(state, customer, application)
        .await?
        .ok_or_else(|| AppError::Internal("the consent record vanished".into()))
}

/// Before a grant is sent: a new record, or the existing one, marked as a pending grant.
async fn mark_grant_pending(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    customer: Guid,
    application: Guid,
    display_name: &str,
    grants: &[Grant],
    by: &str,
) -> Result<(), AppError> {
    let grants_json = serde_json::to_string(grants)
        .map_err(|e| AppError::Internal(format!("grants could not be stored: {e}")))?;
    sqlx::query(
        "INSERT INTO consents (customer_tenant_id, application_id, display_name, grants_json,
         granted_by, granted_at_ms, revoked_by, revoked_at_ms, pending_action, pending_by,
         pending_since_ms)
         VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, 'grant', $5, $6)
         ON CONFLICT (customer_tenant_id, application_id) DO UPDATE SET
           pending_action = 'grant', pending_by = $5, pending_since_ms = $6",
    )
    .bind(customer.to_string())
    .bind(application.to_string())
    .bind(display_name)
    .bind(&grants_json)
    .bind(by)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Before a revoke is sent: the record (if the dashboard has one) marked as a pending revoke.
async fn mark_revoke_pending(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    customer: Guid,
    application: Guid,
    by: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE consents SET pending_action = 'revoke', pending_by = $1, pending_since_ms = $2
         WHERE customer_tenant_id = $3 AND application_id = $4",
    )
    .bind(by)
    .bind(now_ms())
    .bind(customer.to_string())
    .bind(application.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// After a refused or failed call: the record as it was before (a record created for the
/// attempt goes away).
async fn clear_pending(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    customer: Guid,
    application: Guid,
    existed: bool,
) -> Result<(), AppError> {
    let sql = if existed {
        "UPDATE consents SET pending_action = NULL, pending_by = NULL, pending_since_ms = NULL
         WHERE customer_tenant_id = $1 AND application_id = $2"
    } else {
        "DELETE FROM consents WHERE customer_tenant_id = $1 AND application_id = $2"
    };
    sqlx::query(sql)
        .bind(customer.to_string())
        .bind(application.to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub fn grant_url(pc: &PartnerCenterClient, customer: Guid) -> url::Url {
    pc.partner_center_url(&format!("customers/{customer}/applicationconsents"))
}

pub fn revoke_url(pc: &PartnerCenterClient, customer: Guid, application: Guid) -> url::Url {
    pc.partner_center_url(&format!(
        "customers/{customer}/applicationconsents/{application}"
    ))
}

/// The body of `POST customers/{cid}/applicationconsents`.
pub fn grant_body(application: Guid, display_name: &str, grants: &[Grant]) -> serde_json::Value {
    json!({
        "applicationId": application.to_string(),
        "displayName": display_name,
        "applicationGrants": grants.iter().map(|g| json!({
            "enterpriseApplicationId": g.enterprise_application_id,
            "scope": g.scope,
        })).collect::<Vec<_>>(),
    })
}

/// Records a granted consent (inside the caller's transaction, beside its audit entry).
pub async fn store_grant(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    customer: Guid,
    application: Guid,
    display_name: &str,
    grants: &[Grant],
    granted_by: &str,
) -> Result<(), AppError> {
    let grants_json = serde_json::to_string(grants)
        .map_err(|e| AppError::Internal(format!("grants could not be stored: {e}")))?;
    sqlx::query(
        "INSERT INTO consents (customer_tenant_id, application_id, display_name, grants_json,
         granted_by, granted_at_ms, revoked_by, revoked_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)
         ON CONFLICT (customer_tenant_id, application_id) DO UPDATE SET
           display_name = $3, grants_json = $4, granted_by = $5, granted_at_ms = $6,
           revoked_by = NULL, revoked_at_ms = NULL,
           pending_action = NULL, pending_by = NULL, pending_since_ms = NULL",
    )
    .bind(customer.to_string())
    .bind(application.to_string())
    .bind(display_name)
    .bind(&grants_json)
    .bind(granted_by)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records a revoked consent (inside the caller's transaction); the grants stay for an undo.
pub async fn store_revoke(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    customer: Guid,
    application: Guid,
    revoked_by: &str,
) -> Result<(), AppError> {
    sqlx::query(
        "UPDATE consents SET revoked_by = $1, revoked_at_ms = $2,
           pending_action = NULL, pending_by = NULL, pending_since_ms = NULL
         WHERE customer_tenant_id = $3 AND application_id = $4",
    )
    .bind(revoked_by)
    .bind(now_ms())
    .bind(customer.to_string())
    .bind(application.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Revokes, and returns the record (with its grants, for an undo).
pub async fn revoke(
    state: &AppState,
    user: &SessionUser,
    customer: Guid,
    application: Guid,
) -> Result<ConsentRecord, AppError> {
    let mut entry = Entry::new(&user.upn, "revoke-consent")
        .customer(customer)
        .target(format!("application {application}"));
    let token = token_or_audit(state, user, &entry).await?;
    let ids = CallIds::new(Guid::new_v4());
    entry = entry.call(&ids);
    let mut tx = state.storage.pool.begin().await?;
    mark_revoke_pending(&mut tx, customer, application, &user.upn).await?;
    let attempt = audit::begin(&mut *tx, &entry).await?;
    tx.commit().await?;

    let pc = &state.partner_center;
    let url = revoke_url(pc, customer, application);
    let result = retrying(|| pc.send(&token, Method::DELETE, url.clone(), &ids, None::<&()>)).await;
    // Nothing to revoke upstream is the state the admin asked for.
    let absent = matches!(&result, Err(e) if e.status() == Some(404));
    entry = entry.result(&result, 200);
    if absent {
        entry = entry.succeeded_with_note("no consent existed");
    }
    let mut tx = state.storage.pool.begin().await?;
    if let (Err(error), false) = (result, absent) {
        clear_pending(&mut tx, customer, application, true).await?;
        audit::complete(&mut tx, &attempt, &entry).await?;
        tx.commit().await?;
        return Err(AppError::from(error).explain_forbidden(&needed_roles(false)));
    }
    store_revoke(&mut tx, customer, application, &user.upn).await?;
    audit::complete(&mut tx, &attempt, &entry).await?;
    tx.commit().await?;
    record_of(state, customer, application)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: "a recorded consent for this application".into(),
        })
}

/// Undo of a revoke: grants again what was recorded.
pub async fn restore(
    state: &AppState,
    user: &SessionUser,
    customer: Guid,
    application: Guid,
) -> Result<ConsentRecord, AppError> {
    let recorded = record_of(state, customer, application)
        .await?
        .ok_or_else(|| AppError::NotFound {
            what: "a recorded consent for this application".into(),
        })?;
    grant(
        state,
        user,
        customer,
        application,
        &recorded.display_name,
        &recorded.grants,
    )
    .await
}

const SELECT: &str = "SELECT customer_tenant_id, application_id, display_name, grants_json,
    granted_by, granted_at_ms, revoked_by, revoked_at_ms, pending_action, pending_by,
    pending_since_ms FROM consents";

fn record(row: &sqlx::any::AnyRow) -> Result<ConsentRecord, sqlx::Error> {
    let grants: String = row.try_get("grants_json")?;
    let revoked_at: Option<i64> = row.try_get("revoked_at_ms")?;
    let pending_since: Option<i64> = row.try_get("pending_since_ms")?;
    Ok(ConsentRecord {
        customer_tenant_id: row.try_get("customer_tenant_id")?,
        application_id: row.try_get("application_id")?,
        display_name: row.try_get("display_name")?,
        grants: serde_json::from_str(&grants).unwrap_or_default(),
        granted_by: row.try_get("granted_by")?,
        granted_at: rfc3339_of_ms(row.try_get("granted_at_ms")?),
        revoked_by: row.try_get("revoked_by")?,
        revoked_at: revoked_at.map(rfc3339_of_ms),
        pending_action: row.try_get("pending_action")?,
        pending_by: row.try_get("pending_by")?,
        pending_since: pending_since.map(rfc3339_of_ms),
    })
}

pub async fn record_of(
    state: &AppState,
    customer: Guid,
    application: Guid,
) -> Result<Option<ConsentRecord>, AppError> {
    let row = sqlx::query(&format!(
        "{SELECT} WHERE customer_tenant_id = $1 AND application_id = $2"
    ))
    .bind(customer.to_string())
    .bind(application.to_string())
    .fetch_optional(&state.storage.pool)
    .await?;
    Ok(row.as_ref().map(record).transpose()?)
}

pub async fn list_for(state: &AppState, customer: Guid) -> Result<Vec<ConsentRecord>, AppError> {
    let rows = sqlx::query(&format!(
        "{SELECT} WHERE customer_tenant_id = $1 ORDER BY application_id"
    ))
    .bind(customer.to_string())
    .fetch_all(&state.storage.pool)
    .await?;
    let records = rows.iter().map(record).collect::<Result<Vec<_>, _>>()?;
    Ok(records)
}

/// The applications the dashboard has granted in any customer, by name, with the configured one.
pub async fn known_applications(state: &AppState) -> Result<Vec<KnownApplication>, AppError> {
    let named: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT application_id, MAX(display_name) FROM consents
         GROUP BY application_id ORDER BY MAX(display_name), application_id LIMIT 100",
    )
    .fetch_all(&state.storage.pool)
    .await?;
    let mut known: Vec<KnownApplication> = named
        .into_iter()
        .map(|(application_id, name)| KnownApplication {
            application_id,
            display_name: name.unwrap_or_default(),
        })
        .collect();
    if let Some(configured) = &state.config.cpv_application_id {
        if !known
            .iter()
            .any(|k| k.application_id.eq_ignore_ascii_case(configured))
        {
            known.insert(
                0,
                KnownApplication {
                    application_id: configured.clone(),
                    display_name: "the configured CPV application".into(),
                },
            );
        }
    }
    Ok(known)
}

/// The name given to `application` before, for a form that left the name empty.
pub async fn known_name(
    state: &AppState,
    application: Guid,
    given: &str,
) -> Result<String, AppError> {
    let given = given.trim().chars().take(256).collect::<String>();
    if !given.is_empty() {
        return Ok(given);
    }
    let known: Option<Option<String>> = sqlx::query_scalar(
        "SELECT MAX(display_name) FROM consents WHERE application_id = $1 AND display_name <> ''",
    )
    .bind(application.to_string())
    .fetch_optional(&state.storage.pool)
    .await?;
    Ok(known.flatten().unwrap_or_default())
}

/// Active recorded consents of every customer, for the customers export.
pub async fn consents_per_customer(state: &AppState) -> Result<HashMap<String, u32>, AppError> {
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT customer_tenant_id, COUNT(*) FROM consents
         WHERE revoked_at_ms IS NULL GROUP BY customer_tenant_id",
    )
    .fetch_all(&state.storage.pool)
    .await?;
    Ok(by_customer(counts))
}

/// Active consents of these customers only (a page of the list): a page reads what it shows.
pub async fn consents_of(
    state: &AppState,
    tenant_ids: &[&str],
) -> Result<HashMap<String, u32>, AppError> {
    if tenant_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders: Vec<String> = (1..=tenant_ids.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "SELECT customer_tenant_id, COUNT(*) FROM consents
         WHERE revoked_at_ms IS NULL AND customer_tenant_id IN ({})
         GROUP BY customer_tenant_id",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as(&sql);
    for tenant_id in tenant_ids {
        query = query.bind(*tenant_id);
    }
    Ok(by_customer(query.fetch_all(&state.storage.pool).await?))
}

fn by_customer(counts: Vec<(String, i64)>) -> HashMap<String, u32> {
    counts
        .into_iter()
        .map(|(customer, n)| (customer, u32::try_from(n).unwrap_or_default()))
        .collect()
}
