//! The key form's source fields (provider, its secret, the redirect) and
//! the drawer's setup steps for each provider: where to paste the URL and
//! the secret on the provider's side.

use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::Problems;
use super::layout;
use crate::providers::Provider;

fn label(p: Provider) -> &'static str {
    match p {
        Provider::Webhook => "Webhook (JSON or form post with the token in a header)",
        Provider::Form => "Plain HTML form (no token; allowed domains required)",
        Provider::GoogleAds => "Google Ads lead form",
        Provider::Typeform => "Typeform",
        Provider::Tally => "Tally",
        Provider::Jotform => "Jotform",
        Provider::Linkedin => "LinkedIn Lead Sync",
    }
}

/// The provider select, the provider secret (never pre-filled) and the
/// redirect URL.
pub fn fields(p: &Problems, provider: &str, secret_set: bool, redirect: &str) -> Markup {
    let invalid = !p.of("provider").is_empty();
    html! {
        div.field {
            label for="f-provider" { "Source" }
            select #f-provider name="provider" aria-invalid=[invalid.then_some("true")] {
                @for option in Provider::ALL {
                    option value=(option.as_str()) selected[option.as_str() == provider] { (label(option)) }
                }
            }
            p.hint { "How requests to the hook URL are authenticated and read. The setup steps appear once the key exists." }
        }
        div.field {
            label for="f-providerSecret" { "Provider secret" }
            input type="password" id="f-providerSecret" name="providerSecret" autocomplete="off"
                aria-invalid=[(!p.of("providerSecret").is_empty()).then_some("true")];
            p.hint {
                @if secret_set { "A secret is set; leave empty to keep it. " }
                "LinkedIn: the app's client secret. "
                "Typeform/Tally signing secret (else the token signs), or the Turnstile secret key of a plain HTML form. Never shown again."
            }
        }
        (layout::field("redirectUrl", "Redirect after a form post", redirect, p,
            "Plain HTML forms: an https URL the visitor lands on (else Leadpipe's thank-you page)."))
    }
}

/// The source fields of a submitted key form, for the API body: an empty
/// secret is left out (kept).
pub fn body_fields(get: impl Fn(&str) -> String, body: &mut Map<String, Value>) {
    let provider = get("provider");
    body.insert(
        "provider".into(),
        json!(if provider.is_empty() {
            "webhook".to_owned()
        } else {
            provider
        }),
    );
    body.insert("redirectUrl".into(), json!(get("redirectUrl")));
    let secret = get("providerSecret");
    if !secret.is_empty() {
        body.insert("providerSecret".into(), json!(secret));
    }
}

/// The drawer's HTML form snippet: for a `form` key one that works pasted
/// into a static page; for the others one whose token a backend or form
/// tool must set.
pub fn form_snippet(provider: Provider, url: &str, honeypot: &str) -> String {
    let honeypot_input = if honeypot.is_empty() {
        String::new()
    } else {
        format!(
            "\n  <input type=\"text\" name=\"{honeypot}\" style=\"display:none\" tabindex=\"-1\" autocomplete=\"off\">"
        )
    };
    if provider == Provider::Form {
        return format!(
            "<form method=\"post\" action=\"{url}\">\n  <input name=\"name\" placeholder=\"Name\">\n  <input name=\"email\" type=\"email\" placeholder=\"Email\" required>\n  <input name=\"phone\" type=\"tel\" placeholder=\"Phone\">{honeypot_input}\n  <button>Send</button>\n</form>"
        );
    }
    format!(
        "<form method=\"post\" action=\"{url}\">\n  <input name=\"name\" placeholder=\"Name\">\n  <input name=\"email\" type=\"email\" placeholder=\"Email\">\n  <input name=\"phone\" type=\"tel\" placeholder=\"Phone\">{honeypot_input}\n  <button>Send</button>\n</form>\n<!-- The token travels in the X-Webhook-Token header: set it in your\n     backend or form tool, never in the page. -->"
    )
}

/// The provider-side steps, with the URL and the secret to paste.
pub fn setup_steps(provider: Provider, url: &str, token: &str, secret_set: bool) -> Markup {
    let secret = if secret_set {
        "the provider secret you set"
    } else {
        "the key's token"
    };
    let token = if secret_set {
        "YOUR_PROVIDER_SECRET"
    } else {
        token
    };
    html! {
        h3 { "Set up: " (label(provider)) }
        ol.steps {
            @match provider {
                Provider::Webhook => {
                    li { "POST JSON or a form to the hook URL with the token in " code { "X-Webhook-Token" } " (from your backend, Zapier, Make…)." }
                }
                Provider::Form => {
                    li { "Paste the HTML form below into your page on one of the allowed domains; no token, no script." }
                    li { "Optional: a Cloudflare Turnstile widget in the form and its secret key as the provider secret." }
                    li { "Optional: a hidden " code { "_redirect" } " field (on an allowed domain) or the key's redirect URL for your thank-you page." }
                }
                Provider::GoogleAds => {
                    li { "Google Ads → your lead form asset → Lead delivery → Webhook integration." }
                    li { "Webhook URL: " code { (url) } }
                    li { "Key: " code { (token) } " (" (secret) ")." }
                    li { "Send test data: the test lead arrives marked as a test." }
                }
                Provider::Typeform => {
                    li { "Typeform → your form → Connect → Webhooks → Add a webhook: " code { (url) } }
                    li { "Edit the webhook → Secret: paste " (secret) ", then turn it on." }
                }
                Provider::Tally => {
                    li { "Tally → your form → Integrations → Webhooks → Connect: " code { (url) } }
                    li { "Signing secret: paste " (secret) "." }
                }
                Provider::Linkedin => {
                    li { "Set the provider secret to your LinkedIn app's client secret, and the provider token to an access token with r_marketing_leadgen_automation." }
                    li { "Subscribe the hook URL with LinkedIn's Lead Notification Subscriptions API (POST /rest/leadNotifications, webhook = " code { (url) } "); LinkedIn validates it with a challenge Leadpipe answers." }
                }
                Provider::Jotform => {
                    li { "Jotform → your form → Settings → Integrations → WebHooks." }
                    li { "URL (the secret travels in it; Jotform signs nothing): " code { (url) "?token=" (token) } }
                }
            }
        }
    }
}

/// The workspace's Meta pages and the sweep's last check of each (a token
/// refused, the app unsubscribed): nothing when none is registered.
pub async fn meta_pages(ctx: &super::Ctx<'_>) -> Markup {
    let Ok(page) = ctx.api("GET", "/v1/meta/pages?limit=200", None).await else {
        return html! {};
    };
    let pages = page["items"].as_array().cloned().unwrap_or_default();
    let text = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_owned();
    html! {
        @if !pages.is_empty() {
            section aria-labelledby="meta-pages-h" {
                h2 #meta-pages-h { "Meta pages" }
                div.table-wrap { table {
                    thead { tr { th { "Page" } th { "Health" } th { "Why" } } }
                    tbody {
                        @for p in &pages {
                            @let health = &p["health"];
                            tr {
                                td { (text(p, "name")) " " code { (text(p, "pageId")) } }
                                td { (layout::badge(&text(health, "state"))) }
                                td {
                                    @if health["state"] == "failing" {
                                        (text(health, "reason")) " (since " (layout::time(&text(health, "since"))) ")"
                                    }
                                }
                            }
                        }
                    }
                } }
            }
        }
    }
}

/// **Send test lead** (the key drawer's button): a marked test lead through
/// the key's own pipeline (`POST /v1/keys/{id}/test-lead`).
pub async fn test_lead(
    ctx: &super::Ctx<'_>,
) -> Result<lambda_http::Response<lambda_http::Body>, crate::http::error::ApiError> {
    let id = super::safe_id(ctx.param("id"))?;
    ctx.api("POST", &format!("/v1/keys/{id}/test-lead"), None)
        .await?;
    Ok(super::redirect(&format!(
        "/console/keys/{id}?done=test-lead"
    )))
}
