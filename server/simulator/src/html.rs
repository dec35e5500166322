//! The few HTML pages: the index, the sign-in page and sign-in error pages. Self-contained
//! (inline CSS), every dynamic text HTML-escaped.

use crate::config::{SimConfig, PARTNER_TENANT_ID};
use crate::partner::{PartnerUser, PARTNER_NAME, PARTNER_USERS};

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f2f2f2;\
color:#1b1b1b;margin:0;padding:2rem}main{max-width:44rem;margin:0 auto;background:#fff;\
padding:2rem;border-radius:4px;box-shadow:0 2px 6px rgba(0,0,0,.2)}h1{font-size:1.5rem;\
font-weight:600}code{background:#f4f4f4;padding:0 .25rem}table{border-collapse:collapse;\
width:100%}td,th{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd;\
vertical-align:top}button{display:block;width:100%;text-align:left;padding:.75rem 1rem;\
margin:.5rem 0;border:1px solid #8a8886;background:#fff;border-radius:2px;cursor:pointer;\
font-size:1rem}button:hover{background:#f3f2f1}button small{display:block;color:#605e5c}\
.cancel{text-align:center;background:#f3f2f1}.notice{background:#fff4ce;padding:.75rem;\
border-left:4px solid #c19c00}.error{background:#fde7e9;padding:.75rem;\
border-left:4px solid #a80000}.muted{color:#605e5c;font-size:.9rem}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <link rel=\"icon\" href=\"data:,\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    )
}

/// The account picker shown by the authorize endpoint. Each button posts the original request
/// back with the chosen `login_hint`; Cancel posts it back with `cancel=1`.
pub(crate) fn login_page(params: &[(String, String)], notice: Option<&str>) -> String {
    let hidden: String = params
        .iter()
        .filter(|(k, _)| k != "login_hint" && k != "cancel" && k != "sim_mfa")
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(k),
                escape(v)
            )
        })
        .collect();
    let notice = notice
        .map(|n| format!("<p class=\"notice\">{}</p>", escape(n)))
        .unwrap_or_default();
    let buttons: String = PARTNER_USERS
        .iter()
        .map(|u: &PartnerUser| {
            format!(
                "<button type=\"submit\" name=\"login_hint\" value=\"{}\">{}<small>{}</small>\
                 <small>{}</small></button>",
                escape(u.upn),
                escape(u.display_name),
                escape(u.upn),
                escape(u.rights)
            )
        })
        .collect();
    let body = format!(
        "<h1>Sign in to {}</h1>{notice}<p>Pick an account. This is the Partner Center \
         simulator: there is no password, and multi-factor authentication is assumed unless \
         you tick the box below.</p>\
         <form method=\"post\" action=\"authorize\">{hidden}\
         <p><label><input type=\"checkbox\" name=\"sim_mfa\" value=\"false\"> Sign in \
         without multi-factor authentication (Partner Center will refuse the token)</label></p>\
         {buttons}\
         <button type=\"submit\" name=\"cancel\" value=\"1\" class=\"cancel\">Cancel</button>\
         </form>",
        escape(PARTNER_NAME)
    );
    page("Sign in to your account", &body)
}

/// An Entra-style sign-in error page (for errors that cannot be redirected to the client).
pub(crate) fn error_page(message: &str) -> String {
    let body = format!(
        "<h1>Sorry, but we're having trouble signing you in.</h1><p class=\"error\">{}</p>",
        escape(message)
    );
    page("Sign in error", &body)
}

/// The signed-out page of the logout endpoint.
pub(crate) fn signed_out_page() -> String {
    page(
        "Signed out",
        "<h1>You signed out of your account</h1><p>It's a good idea to close all browser \
         windows.</p>",
    )
}

/// `/_sim/`: what the simulator serves and who can sign in.
pub(crate) fn index_page(config: &SimConfig) -> String {
    let users: String = PARTNER_USERS
        .iter()
        .map(|u| {
            format!(
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                escape(u.display_name),
                escape(u.upn),
                escape(u.rights)
            )
        })
        .collect();
    let authority = escape(&config.authority());
    let pc = escape(&config.partner_center_base());
    let admin = escape(&config.admin_api_base());
    let graph = escape(&config.graph_base());
    let endpoints = [
        ("GET", format!("{authority}/.well-known/openid-configuration"), "OIDC discovery"),
        ("GET", format!("{pc}/customers/{{customer-tenant-id}}/directoryroles"), "directory roles"),
        ("GET", format!("{pc}/customers/{{customer-tenant-id}}/users/{{user-id}}/directoryroles"), "roles of a user"),
        ("GET / POST", format!("{pc}/customers/{{customer-tenant-id}}/directoryroles/{{role-id}}/usermembers"), "role members / add a member"),
        ("DELETE", format!("{pc}/customers/{{customer-tenant-id}}/directoryroles/{{role-id}}/usermembers/{{user-id}}"), "remove a member"),
        ("GET", format!("{pc}/customers/{{customer-tenant-id}}/users"), "customer users"),
        ("POST", format!("{pc}/customers/{{customer-tenant-id}}/applicationconsents"), "grant consent"),
        ("DELETE", format!("{pc}/customers/{{customer-tenant-id}}/applicationconsents/{{application-id}}"), "remove consent"),
        ("PATCH", format!("{pc}/customers/{{customer-tenant-id}}"), "remove DAP"),
        ("GET", format!("{admin}/delegatedAdminCustomers"), "delegated-admin customers (OData)"),
        ("GET", format!("{graph}/tenantRelationships/delegatedAdminRelationships"), "GDAP relationships ($filter, $top ≤ 300, $skipToken)"),
        ("GET", format!("{graph}/tenantRelationships/delegatedAdminRelationships/{{relationship-id}}/accessAssignments"), "access assignments of a relationship"),
        ("GET", format!("{graph}/tenantRelationships/delegatedAdminCustomers"), "GDAP customers"),
        ("GET", "/_sim/state".to_owned(), "simulator state (for tests)"),
        ("GET / PUT", "/_sim/faults".to_owned(), "fault injection settings"),
        ("POST", "/_sim/refresh-tokens/revoke".to_owned(), "revoke a user's refresh tokens: {\"upn\": \"…\"}"),
        ("POST", "/_sim/gdap/relationships/{relationship-id}/terminate".to_owned(), "terminate a GDAP relationship"),
        ("POST", "/_sim/gdap/relationships/{relationship-id}/accessAssignments/{assignment-id}/delete".to_owned(), "delete an access assignment"),
        ("PUT", "/_sim/app-roles".to_owned(), "change a user's app roles in later id tokens: {\"upn\": \"…\", \"roles\": [\"…\"]}"),
    ];
    let rows: String = endpoints
        .iter()
        .map(|(method, path, what)| {
            format!(
                "<tr><td>{method}</td><td><code>{path}</code></td><td>{}</td></tr>",
                escape(what)
            )
        })
        .collect();
    let body = format!(
        "<h1>Partner Center simulator</h1>\
         <p>Simulates the Partner Center REST API, the Partner Customer Administration API, \
         Microsoft Graph's GDAP relationships and the Entra ID sign-in of the partner tenant <code>{tenant}</code> ({partner}) with \
         {customers} customers (seed {seed}).</p>\
         <table><tr><th>Setting</th><th>Value</th></tr>\
         <tr><td>Authority</td><td><code>{authority}</code></td></tr>\
         <tr><td>Client id</td><td><code>{client}</code></td></tr>\
         <tr><td>Partner Center base</td><td><code>{pc}</code></td></tr>\
         <tr><td>Admin API base</td><td><code>{admin}</code></td></tr>\
         <tr><td>Graph base</td><td><code>{graph}</code></td></tr></table>\
         <h2>Demo users</h2><table><tr><th>Name</th><th>Sign-in name</th><th>Rights</th></tr>\
         {users}</table><h2>Endpoints</h2>\
         <table><tr><th>Method</th><th>URL</th><th>Purpose</th></tr>{rows}</table>\
         <p class=\"muted\">Every API call needs a bearer token for its audience. Send \
         MS-RequestId to make writes idempotent.</p>",
        tenant = PARTNER_TENANT_ID,
        partner = escape(PARTNER_NAME),
        customers = config.customers,
        seed = config.seed,
        client = escape(&config.client_id),
    );
    page("Partner Center simulator", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn login_page_carries_params_escaped() {
        let params = vec![
            ("state".to_owned(), "\"><script>x</script>".to_owned()),
            ("login_hint".to_owned(), "dropped".to_owned()),
        ];
        let html = login_page(&params, Some("<unknown> user"));
        assert!(html.contains("name=\"state\" value=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""));
        assert!(!html.contains("<script>x"));
        assert!(!html.contains("dropped"));
        assert!(html.contains("&lt;unknown&gt; user"));
        for u in PARTNER_USERS {
            assert!(html.contains(u.upn));
        }
        assert!(html.contains("Cancel"));
    }
}
