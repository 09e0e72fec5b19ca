//! Reading admin requests: JSON bodies field by field (every problem
//! collected into one 422), query parameters, pagination.

use lambda_http::Request;
use serde_json::{Map, Value};

use crate::aws::pagination::PageRequest;
use crate::error::FieldIssue;
use crate::http::error::ApiError;
use crate::http::{header, query_param};

/// `?limit=` and `?cursor=`.
pub fn page_request(query: &[(String, String)]) -> Result<PageRequest, ApiError> {
    Ok(PageRequest::from_query(
        query_param(query, "limit"),
        query_param(query, "cursor"),
    )?)
}

/// `?reveal=true|false`.
pub fn reveal(query: &[(String, String)]) -> Result<bool, ApiError> {
    match query_param(query, "reveal") {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(ApiError::invalid("reveal", "must be true or false")),
    }
}

/// A query parameter, trimmed; empty counts as absent.
pub fn non_empty<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query_param(query, name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// A JSON object from a request body, with per-field accessors that collect
/// every problem before answering one 422 with all of them.
pub struct JsonInput {
    map: Map<String, Value>,
    issues: Vec<FieldIssue>,
}

impl JsonInput {
    /// Parses the body: 415 unless JSON, 400 unless an object.
    pub fn parse(req: &Request) -> Result<Self, ApiError> {
        if let Some(ct) = header(req.headers(), "content-type") {
            let media = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if media != "application/json" && !media.ends_with("+json") {
                return Err(ApiError::UnsupportedMediaType(
                    "send application/json".into(),
                ));
            }
        }
        let body = req.body().as_ref();
        if body.len() > 256 * 1024 {
            return Err(ApiError::PayloadTooLarge { limit: 256 * 1024 });
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonInput {
                map: Map::new(),
                issues: vec![],
            });
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(JsonInput {
                map,
                issues: vec![],
            }),
            Ok(_) => Err(ApiError::MalformedBody(
                "the body must be a JSON object".into(),
            )),
            Err(e) => Err(ApiError::MalformedBody(format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))),
        }
    }

    /// Records an issue for every field not in `allowed`.
    pub fn allow_only(&mut self, allowed: &[&str]) {
        let unknown: Vec<String> = self
            .map
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            let shown: String = k.chars().take(64).collect();
            self.issue(shown, "is not a known field");
        }
    }

    pub fn issue(&mut self, field: impl Into<String>, issue: impl Into<String>) {
        self.issues.push(FieldIssue::new(field, issue));
    }

    /// The raw JSON value of a field.
    pub fn raw(&self, field: &str) -> Option<&Value> {
        self.map.get(field)
    }

    pub fn has(&self, field: &str) -> bool {
        self.map.contains_key(field)
    }

    /// Absent → `None`; present and a string → trimmed; otherwise an issue.
    /// `null` counts as absent.
    pub fn string(&mut self, field: &str) -> Option<String> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.trim().to_owned()),
            Some(_) => {
                self.issue(field, "must be a string");
                None
            }
        }
    }

    /// Absent → `None`; `null` → `Some(None)`; a string → `Some(Some(..))`.
    pub fn nullable_string(&mut self, field: &str) -> Option<Option<String>> {
        match self.map.get(field) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) => {
                let t = s.trim();
                Some((!t.is_empty()).then(|| t.to_owned()))
            }
            Some(_) => {
                self.issue(field, "must be a string or null");
                None
            }
        }
    }

    pub fn bool(&mut self, field: &str) -> Option<bool> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.issue(field, "must be true or false");
                None
            }
        }
    }

    /// Absent → `None`; an array of strings → trimmed; otherwise an issue.
    pub fn string_list(&mut self, field: &str) -> Option<Vec<String>> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => out.push(s.trim().to_owned()),
                        _ => {
                            self.issue(field, "must be an array of strings");
                            return None;
                        }
                    }
                }
                Some(out)
            }
            Some(_) => {
                self.issue(field, "must be an array of strings");
                None
            }
        }
    }

    /// Answers 422 with every issue recorded, if any.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.issues))
        }
    }
}
