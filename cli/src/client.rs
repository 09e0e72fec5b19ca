//! The admin API over HTTPS (reqwest with rustls): the bearer token, the
//! `Leadpipe-Workspace` header when a workspace is chosen, and the
//! contract's error envelope turned into a [`CliError`].

use std::time::Duration;

use reqwest::{Method, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::Target;
use crate::error::{CliError, Result};

pub const USER_AGENT: &str = concat!("leadpipe-cli/", env!("CARGO_PKG_VERSION"));

/// The header that picks a workspace for the root token (issue 21).
pub const WORKSPACE_HEADER: &str = "Leadpipe-Workspace";

pub struct Api {
    target: Target,
    http: reqwest::Client,
}

/// A page of a list, as every list route answers.
#[derive(Debug, serde::Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

fn unavailable(e: reqwest::Error) -> CliError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    // Without the URL: it may carry a secret a user pasted.
    CliError::Unavailable(format!("{what}: {}", e.without_url()))
}

impl Api {
    pub fn new(target: Target) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| CliError::Local(format!("HTTP client: {e}")))?;
        Ok(Api { target, http })
    }

    pub fn base(&self) -> &url::Url {
        &self.target.url
    }

    fn url(&self, path: &str) -> Result<url::Url> {
        self.target
            .url
            .join(path.trim_start_matches('/'))
            .map_err(|e| CliError::Local(format!("bad path {path:?}: {e}")))
    }

    /// Sends a request; an error answer becomes [`CliError::Api`].
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        timeout: Option<Duration>,
    ) -> Result<Response> {
        let mut url = self.url(path)?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let mut req = self
            .http
            .request(method, url)
            .bearer_auth(&self.target.token);
        if let Some(ws) = &self.target.workspace {
            req = req.header(WORKSPACE_HEADER, ws);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(t) = timeout {
            req = req.timeout(t);
        }
        let resp = req.send().await.map_err(unavailable)?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(error_from(resp).await)
    }

    /// A JSON answer (`null` for 204).
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value> {
        let resp = self.send(method, path, query, body, None).await?;
        if resp.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        resp.json().await.map_err(unavailable)
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T> {
        let v = self.json(Method::GET, path, query, None).await?;
        serde_json::from_value(v).map_err(|e| {
            CliError::Local(format!(
                "the API's answer to {path} is not what this CLI expects ({e}); is the CLI older than the API?"
            ))
        })
    }
}

/// The contract's envelope: `{"error": {"code", "message", "details"?}}`.
async fn error_from(resp: Response) -> CliError {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let e = &body["error"];
    let details = e["details"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|d| {
                    format!(
                        "{}: {}",
                        d["field"].as_str().unwrap_or("?"),
                        d["issue"].as_str().unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    CliError::Api {
        status,
        code: e["code"].as_str().unwrap_or("http_error").to_owned(),
        message: e["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("the API answered HTTP {status}")),
        details,
    }
}
