//! A registered Meta page's health, as Graph tells it: `GET
//! {graph}/{page-id}/subscribed_apps` with the page's own access token.
//!
//! * `200 {"data": [...]}` — the apps whose webhooks serve the page. The
//!   page is healthy when the deployment's app (its id, when the deployment
//!   secret names one as `metaAppId`) is among them; with no app id, when
//!   any app is. An app listed with `subscribed_fields` that leave out
//!   `leadgen` sends no leads: failing too.
//! * `400` with Graph's error `code` 190 — the token is invalid, expired or
//!   revoked (Graph's `OAuthException`): failing. Any other 4xx: failing,
//!   with Graph's message (its token masked).
//! * 5xx, 429, a timeout, a connection failure: unknown; the page keeps
//!   what it had, and the next check asks again.

use serde_json::Value;

/// The longest Graph message kept in a reason.
const MAX_MESSAGE: usize = 200;

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Healthy,
    /// Leads cannot arrive: why.
    Failing(String),
    /// Graph could not say (an outage, throttling): ask again later.
    Unknown(String),
}

/// Reads Graph's answer to `subscribed_apps`. `app_id` is the deployment's
/// app, when known.
pub fn classify(status: u16, body: &[u8], app_id: Option<&str>, token: &str) -> Health {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    if (200..300).contains(&status) {
        let Some(apps) = parsed.as_ref().and_then(|v| v["data"].as_array()) else {
            return Health::Unknown("Graph answered subscribed_apps without a data list".into());
        };
        let ours: Vec<&Value> = apps
            .iter()
            .filter(|a| match app_id {
                Some(id) => crate::providers::id_text(a.get("id")).as_deref() == Some(id),
                None => true,
            })
            .collect();
        if ours.is_empty() {
            return Health::Failing(match app_id {
                Some(_) if !apps.is_empty() => {
                    "the Meta app is no longer among the page's subscribed_apps: subscribe it again (POST /{page-id}/subscribed_apps?subscribed_fields=leadgen)".into()
                }
                _ => "the page has no subscribed apps: subscribe the Meta app again (POST /{page-id}/subscribed_apps?subscribed_fields=leadgen)".into(),
            });
        }
        let leadgen = ours.iter().any(|a| match a.get("subscribed_fields") {
            Some(Value::Array(fields)) => fields.iter().any(|f| f.as_str() == Some("leadgen")),
            // Fields not listed: nothing says leadgen is off.
            _ => true,
        });
        return if leadgen {
            Health::Healthy
        } else {
            Health::Failing(
                "the Meta app is subscribed to the page without the leadgen field".into(),
            )
        };
    }
    let error = parsed.as_ref().map(|v| &v["error"]);
    let code = error.and_then(|e| e["code"].as_i64());
    let message: String = error
        .and_then(|e| e["message"].as_str())
        .unwrap_or("")
        .replace(token, "***")
        .chars()
        .take(MAX_MESSAGE)
        .collect();
    if status >= 500 || status == 429 {
        return Health::Unknown(format!("Graph answered {status}"));
    }
    if code == Some(190) {
        return Health::Failing(format!(
            "the page access token is invalid, expired or revoked (Graph error 190): register the page again with a new token{}",
            if message.is_empty() {
                String::new()
            } else {
                format!(" ({message})")
            }
        ));
    }
    Health::Failing(
        format!("Graph refused the check ({status}): {message}")
            .trim_end_matches([' ', ':'])
            .to_owned(),
    )
}

/// Asks Graph about one page.
pub async fn check(
    http: &reqwest::Client,
    graph_url: &str,
    page_id: &str,
    token: &str,
    app_id: Option<&str>,
) -> Health {
    let Ok(url) = url::Url::parse_with_params(
        &format!("{graph_url}/{page_id}/subscribed_apps"),
        [("access_token", token)],
    ) else {
        return Health::Unknown("the Graph API URL is not valid".into());
    };
    let resp = match http.get(url).send().await {
        Ok(r) => r,
        // Nothing of the error's text: it carries the URL, and the URL the token.
        Err(e) if e.is_timeout() => return Health::Unknown("Graph timed out".into()),
        Err(_) => return Health::Unknown("Graph unreachable".into()),
    };
    let status = resp.status().as_u16();
    match resp.bytes().await {
        Ok(body) => classify(status, &body, app_id, token),
        Err(_) => Health::Unknown("Graph's answer was cut short".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "1000000000000001";

    fn healthy(body: &str, app: Option<&str>) -> Health {
        classify(200, body.as_bytes(), app, "tok")
    }

    #[test]
    fn our_app_with_leadgen_is_healthy() {
        let body = r#"{"data":[{"category":"Business","link":"https://x","name":"Leadpipe","id":"1000000000000001","subscribed_fields":["leadgen"]}]}"#;
        assert_eq!(healthy(body, Some(APP)), Health::Healthy);
        assert_eq!(healthy(body, None), Health::Healthy);
        // An id written as a number is the same id.
        let numeric = r#"{"data":[{"id":1000000000000001}]}"#;
        assert_eq!(healthy(numeric, Some(APP)), Health::Healthy);
    }

    #[test]
    fn missing_or_other_apps_or_no_leadgen_fail() {
        assert!(
            matches!(healthy(r#"{"data":[]}"#, Some(APP)), Health::Failing(r) if r.contains("no subscribed apps"))
        );
        assert!(matches!(
            healthy(r#"{"data":[]}"#, None),
            Health::Failing(_)
        ));
        assert!(
            matches!(healthy(r#"{"data":[{"id":"42"}]}"#, Some(APP)), Health::Failing(r) if r.contains("no longer"))
        );
        let no_leadgen = r#"{"data":[{"id":"1000000000000001","subscribed_fields":["feed"]}]}"#;
        assert!(
            matches!(healthy(no_leadgen, Some(APP)), Health::Failing(r) if r.contains("leadgen"))
        );
        assert!(matches!(healthy("not json", Some(APP)), Health::Unknown(_)));
    }

    #[test]
    fn a_revoked_token_fails_and_outages_are_unknown() {
        let revoked = r#"{"error":{"message":"Error validating access token: The session has been invalidated. tok","type":"OAuthException","code":190,"error_subcode":460,"fbtrace_id":"A"}}"#;
        match classify(400, revoked.as_bytes(), Some(APP), "tok") {
            Health::Failing(r) => {
                assert!(r.contains("190"), "{r}");
                assert!(!r.contains("tok)"), "the token is masked: {r}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(500, b"{}", Some(APP), "t"),
            Health::Unknown(_)
        ));
        assert!(matches!(classify(429, b"", None, "t"), Health::Unknown(_)));
        assert!(
            matches!(classify(403, br#"{"error":{"message":"no","code":200}}"#, None, "t"), Health::Failing(r) if r.contains("403"))
        );
    }
}
