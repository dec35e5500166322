//! The CPV consent panel of a customer: what the dashboard granted, a grant form with presets,
//! one-click revoke with an Undo offered for a few seconds.

use super::format::When;
use super::{ErrorPanel, Expires, NotAllowed, PostForm, Submit};
use crate::api::consent::fetch_consents;
use crate::model::access::Permission;
use crate::model::consent::{ConsentRecord, Consents, KnownApplication, PRESETS};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Where a grant or a revoke goes when it succeeded: this page, saying what it did.
const GRANTED: &str = "?granted={application_id}";
const REVOKED: &str = "?revoked={application_id}";

/// How long the Undo of a revoke stays offered.
const UNDO_SECONDS: u64 = 10;

#[component]
pub fn ConsentPanel(customer_tenant_id: String, can_operate: bool) -> impl IntoView {
    let query = use_query_map();
    let customer = customer_tenant_id.clone();
    let consents = Resource::new(move || customer.clone(), fetch_consents);
    view! {
        <section class="panel consent-panel">
            <h2>"CPV application consent"</h2>
            <Suspense fallback=|| view! { <p class="loading">"Loading consents…"</p> }>
                {move || {
                    let customer_tenant_id = customer_tenant_id.clone();
                    Suspend::new(async move {
                    match consents.await {
                        Ok(Consents { records, default_application_id, known_applications }) => {
                            let notice = query.with_untracked(|q| {
                                consent_notice(&records, q.get_str("granted"), q.get_str("revoked"), can_operate)
                            });
                            let form = if can_operate {
                                view! {
                                    <GrantForm
                                        customer_tenant_id=customer_tenant_id.clone()
                                        default_app=default_application_id.unwrap_or_default()
                                        known=known_applications
                                    />
                                }
                                    .into_any()
                            } else {
                                view! { <NotAllowed permission=Permission::Operate /> }.into_any()
                            };
                            view! {
                                {notice}
                                <ConsentTable records can_operate />
                                {form}
                            }
                                .into_any()
                        }
                        Err(error) => view! { <ErrorPanel error return_to="/customers" /> }.into_any(),
                    }
                    })
                }}
            </Suspense>
        </section>
    }
}

/// What the last grant or revoke did (named in the page's query by its form), with an Undo for
/// a few seconds after a revoke. Said only when the consents agree.
fn consent_notice(
    records: &[ConsentRecord],
    granted: Option<&str>,
    revoked: Option<&str>,
    can_operate: bool,
) -> Option<AnyView> {
    let find = |id: Option<&str>| id.and_then(|id| records.iter().find(|r| r.application_id == id));
    if let Some(record) = find(granted).filter(|r| r.is_active()) {
        let name = if record.display_name.is_empty() {
            record.application_id.clone()
        } else {
            format!("{} ({})", record.display_name, record.application_id)
        };
        let grants = record
            .grants
            .iter()
            .map(|g| g.describe())
            .collect::<Vec<_>>()
            .join("; ");
        return Some(
            view! {
                <p class="notice" role="status" id="consent-granted">
                    {format!("Consent granted: {name} now has {grants} in this customer.")}
                </p>
            }
            .into_any(),
        );
    }
    let record = find(revoked).filter(|r| !r.is_active() && r.pending_action.is_none())?;
    let text = format!("Consent for {} revoked. ", record.application_id);
    let (customer, application) = (
        record.customer_tenant_id.clone(),
        record.application_id.clone(),
    );
    Some(
        view! {
            <Expires seconds=UNDO_SECONDS>
                <div class="notice" role="status" id="consent-notice">
                    {text}
                    // The address names the revoke, so anyone can craft it: the Undo is an
                    // operator's.
                    {can_operate.then(|| view! {
                        <PostForm action="/api/restore_consent" class="inline">
                            <input type="hidden" name="customer_tenant_id" value=customer />
                            <input type="hidden" name="application_id" value=application />
                            <Submit class="button">"Undo"</Submit>
                        </PostForm>
                    })}
                </div>
            </Expires>
        }
        .into_any(),
    )
}

#[component]
fn ConsentTable(records: Vec<ConsentRecord>, can_operate: bool) -> impl IntoView {
    if records.is_empty() {
        return view! { <p class="muted">"The dashboard has granted no consent in this customer."</p> }
            .into_any();
    }
    view! {
        <table class="consents">
            <thead>
                <tr>
                    <th scope="col">"Application"</th>
                    <th scope="col">"Grants"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col"></th>
                </tr>
            </thead>
            <tbody>
                {records
                    .into_iter()
                    .map(|r| {
                        let active = r.is_active();
                        let pending = r.pending_action.is_some();
                        let status = match (&r.pending_action, &r.revoked_by, &r.revoked_at) {
                            (Some(action), _, _) => view! {
                                {format!("{action} sent by {} at ", r.pending_by.clone().unwrap_or_default())}
                                <When at=r.pending_since.clone().unwrap_or_default() />
                                ", outcome unknown until Partner Center's answer is recorded (grant or revoke again to settle it)"
                            }
                            .into_any(),
                            (None, Some(by), Some(at)) => {
                                view! { {format!("revoked by {by} at ")} <When at=at.clone() /> }.into_any()
                            }
                            _ => view! {
                                {format!("granted by {} at ", r.granted_by)}
                                <When at=r.granted_at.clone() />
                            }
                            .into_any(),
                        };
                        let grants = r
                            .grants
                            .iter()
                            .map(|g| {
                                view! {
                                    <li title=g.enterprise_application_id.clone()>{g.describe()}</li>
                                }
                            })
                            .collect_view();
                        let customer = r.customer_tenant_id.clone();
                        let application = r.application_id.clone();
                        let row_application = r.application_id.clone();
                        let action = if !can_operate {
                            ().into_any()
                        } else if pending {
                            // Either outcome may have happened: offer both ways to settle it.
                            let (customer2, application2) = (customer.clone(), application.clone());
                            view! {
                                <PostForm action="/api/revoke_consent" class="inline" then=REVOKED>
                                    <input type="hidden" name="customer_tenant_id" value=customer />
                                    <input type="hidden" name="application_id" value=application />
                                    <Submit class="button danger">"Revoke"</Submit>
                                </PostForm>
                                <PostForm action="/api/restore_consent" class="inline">
                                    <input type="hidden" name="customer_tenant_id" value=customer2 />
                                    <input type="hidden" name="application_id" value=application2 />
                                    <Submit class="button">"Grant again"</Submit>
                                </PostForm>
                            }
                                .into_any()
                        } else if active {
                            view! {
                                <PostForm action="/api/revoke_consent" class="inline" then=REVOKED>
                                    <input type="hidden" name="customer_tenant_id" value=customer />
                                    <input type="hidden" name="application_id" value=application />
                                    <Submit class="button danger">"Revoke"</Submit>
                                </PostForm>
                            }
                                .into_any()
                        } else {
                            view! {
                                <PostForm action="/api/restore_consent" class="inline">
                                    <input type="hidden" name="customer_tenant_id" value=customer />
                                    <input type="hidden" name="application_id" value=application />
                                    <Submit class="button">"Grant again"</Submit>
                                </PostForm>
                            }
                                .into_any()
                        };
                        view! {
                            <tr
                                data-application-id=row_application
                                data-status=if pending {
                                    "pending"
                                } else if active {
                                    "granted"
                                } else {
                                    "revoked"
                                }
                            >
                                <td>
                                    {r.display_name} " " <code>{r.application_id}</code>
                                </td>
                                <td>
                                    <ul class="grants">{grants}</ul>
                                </td>
                                <td>{status}</td>
                                <td>{action}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn GrantForm(
    customer_tenant_id: String,
    default_app: String,
    known: Vec<KnownApplication>,
) -> impl IntoView {
    view! {
        <KnownApplications known />
        <PostForm action="/api/grant_consent" class="grant-consent" then=GRANTED>
            <input type="hidden" name="customer_tenant_id" value=customer_tenant_id />
            <GrantFields default_app />
            <Submit class="button primary">"Grant consent"</Submit>
        </PostForm>
    }
}

/// The applications granted before, offered by name as suggestions of every application id
/// field on the page (`list="known-applications"`).
#[component]
pub fn KnownApplications(known: Vec<KnownApplication>) -> impl IntoView {
    view! {
        <datalist id="known-applications">
            {known
                .into_iter()
                .map(|k| {
                    let label = if k.display_name.is_empty() {
                        k.application_id.clone()
                    } else {
                        k.display_name
                    };
                    view! { <option value=k.application_id label=label></option> }
                })
                .collect_view()}
        </datalist>
    }
}

/// The application id field, suggesting the applications granted before by name.
#[component]
pub fn ApplicationIdField(default_app: String) -> impl IntoView {
    view! {
        <label>
            "Application id "
            <input
                type="text"
                name="application_id"
                required
                value=default_app
                size="38"
                list="known-applications"
                autocomplete="off"
            />
        </label>
    }
}

/// Application id, display name and grants (presets and typed lines): the fields a grant form
/// shares with the bulk consent form.
#[component]
pub fn GrantFields(default_app: String) -> impl IntoView {
    view! {
        <ApplicationIdField default_app />
        <label>
            "Display name "
            <input
                type="text"
                name="display_name"
                value=""
                placeholder="kept from earlier grants when empty"
            />
        </label>
        <fieldset class="presets">
            <legend>"Grants"</legend>
            {PRESETS
                .iter()
                .map(|(key, label, _)| {
                    view! {
                        <label>
                            <input type="checkbox" name=format!("preset_{key}") />
                            " "
                            {*label}
                        </label>
                    }
                })
                .collect_view()}
            <label>
                "More, one per line: enterprise application id, then scopes"
                <textarea name="grants" rows="2" cols="60"></textarea>
            </label>
        </fieldset>
    }
}
