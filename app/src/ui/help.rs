//! `/help`: what the words on these pages mean and where to start. Linked from every page.

use leptos::prelude::*;

/// One entry of the glossary: the term, its anchor and what it means here.
const GLOSSARY: [(&str, &str, &str); 11] = [
    (
        "DAP",
        "dap",
        "Delegated admin privileges: the old, all-or-nothing admin access a CSP partner holds in a \
         customer tenant (its agents act as Global Administrators there). Microsoft asks partners \
         to remove DAP where it is no longer needed; the customers view shows where it is stale.",
    ),
    (
        "GDAP",
        "gdap",
        "Granular delegated admin privileges: relationships with a customer that grant chosen \
         Entra ID roles, for a limited time, to security groups in the partner tenant (access \
         assignments). Once DAP is gone, GDAP is all the access the partner keeps.",
    ),
    (
        "GDAP coverage",
        "coverage",
        "Whether an active GDAP relationship with the roles this dashboard needs, and an active \
         access assignment, covers the customer: covered (safe to remove DAP), partial (a needed \
         role is missing), at risk (ends soon without auto-extend, only an MLT_ relationship, or \
         no active assignment), none (nothing active), unknown (Graph could not be read, refused, \
         or answered empty for everyone: not proof of anything).",
    ),
    (
        "Stale DAP",
        "stale",
        "DAP that no partner agent has used for a while: no partner sign-in into the customer \
         for the review's threshold (90 days unless chosen otherwise).",
    ),
    (
        "CPV consent",
        "cpv",
        "Control Panel Vendor consent: the partner grants its own multi-tenant application \
         permissions (for example to Microsoft Graph or Exchange Online) in a customer tenant, \
         through Partner Center. Revoking it removes the application's access there.",
    ),
    (
        "Admin Agents",
        "admin-agents",
        "The partner tenant's group whose members act with DAP and may read GDAP relationships. \
         Graph answers an empty list to anyone else, which is why an empty answer means \
         unknown, never none.",
    ),
    (
        "Review and four-eyes rule",
        "review",
        "A review fixes the DAP customers of a filter; reviewers decide remove or keep with a \
         note, and with the four-eyes rule a second admin approves each removal. Executing the \
         review removes DAP from the approved customers as a job.",
    ),
    (
        "Held removal",
        "held",
        "Right before removing DAP, the job reads the customer's GDAP again. If the coverage fell \
         since the decision, the removal is held, not sent; check it again or release it \
         deliberately from the job's page.",
    ),
    (
        "MS-RequestId",
        "ms-requestid",
        "The id the dashboard sends with each write to Partner Center. A write sent again with \
         the same id is applied once, which is how retries and resumed jobs never act twice.",
    ),
    (
        "MS-CorrelationId",
        "ms-correlationid",
        "The id tying the calls of one operation together. Quote it (with the MS-RequestId) to \
         Microsoft support.",
    ),
    (
        "Dashboard roles",
        "roles",
        "Dashboard.Read shows everything, Dashboard.Operate also acts (consent, role members, \
         jobs, reviews), DapReview.Approve approves others' DAP removals. They are app roles of \
         the dashboard's app registration, assigned in Entra ID.",
    ),
];

#[component]
pub fn HelpPage() -> impl IntoView {
    view! {
        <h1>"Help"</h1>
        <section class="panel" aria-labelledby="first-steps">
            <h2 id="first-steps">"Where to start"</h2>
            <ol>
                <li>
                    "Open " <a href="/customers">"Customers"</a>
                    ": the list comes from Partner Center, with each customer's DAP and GDAP coverage. "
                    "Sync now reads it again."
                </li>
                <li>
                    "Click a bar of the staleness chart, or filter on DAP on and GDAP covered, to see "
                    "the stale DAP customers that are safe to remove."
                </li>
                <li>
                    "Start a " <a href="/reviews">"review"</a>
                    " of that filter, decide each customer, have a second admin approve, then execute it."
                </li>
                <li>
                    "Follow the job on " <a href="/jobs">"Jobs"</a> "; every write is in the "
                    <a href="/audit">"audit log"</a> "."
                </li>
            </ol>
        </section>
        <h2 id="glossary">"Glossary"</h2>
        <dl class="glossary">
            {GLOSSARY
                .into_iter()
                .map(|(term, anchor, meaning)| {
                    view! {
                        <dt id=anchor>{term}</dt>
                        <dd>{meaning}</dd>
                    }
                })
                .collect_view()}
        </dl>
    }
}
