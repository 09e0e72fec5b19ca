//! The API's OpenAPI 3.1 description (`docs/openapi.json`), compiled in and
//! served by `admin` at `GET /v1/openapi.json` without a token, as APIs
//! conventionally publish theirs: it describes routes, not data. The tests
//! below hold it against the route table ([`crate::http::routes::ROUTES`]):
//! every route documented with its method, nothing documented that is not
//! routed.

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};

/// The document, as in the repository.
pub const DOCUMENT: &str = include_str!("../../docs/openapi.json");

/// `GET /v1/openapi.json`.
pub fn response() -> Response<Body> {
    let mut resp = Response::new(Body::Text(DOCUMENT.to_owned()));
    *resp.status_mut() = StatusCode::OK;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::DOCUMENT;
    use crate::http::routes::{Function, ROUTES};

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("docs/openapi.json is JSON")
    }

    fn operations(doc: &Value) -> BTreeSet<(String, String)> {
        let mut ops = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, _) in item.as_object().expect("path item") {
                assert!(
                    METHODS.contains(&method.as_str()),
                    "{path}: {method} is not an HTTP method"
                );
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
        ops
    }

    #[test]
    fn documents_exactly_the_route_table() {
        let doc = document();
        assert_eq!(doc["openapi"].as_str().unwrap(), "3.1.0");
        let documented = operations(&doc);
        let api: Vec<_> = ROUTES.iter().filter(|r| r.is_api()).collect();
        let routed: BTreeSet<(String, String)> = api
            .iter()
            .map(|r| (r.method.to_owned(), r.path.to_owned()))
            .collect();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from docs/openapi.json: {undocumented:?}"
        );
        assert!(
            unrouted.is_empty(),
            "documented but not routed: {unrouted:?}"
        );
        assert_eq!(documented.len(), api.len());
    }

    #[test]
    fn path_parameters_match_the_templates() {
        let doc = document();
        for route in ROUTES.iter().filter(|r| r.is_api()) {
            let op = &doc["paths"][route.path][route.method.to_lowercase()];
            let in_template: BTreeSet<&str> = route
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| p["name"].as_str().unwrap())
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(declared, in_template, "{} {}", route.method, route.path);
        }
    }

    #[test]
    fn admin_routes_need_the_token_and_errors_use_the_envelope() {
        let doc = document();
        let responses = &doc["components"]["responses"];
        for route in ROUTES.iter().filter(|r| r.is_api()) {
            let op = &doc["paths"][route.path][route.method.to_lowercase()];
            let public = matches!(route.path, "/healthz" | "/v1/openapi.json")
                || route.function != Function::Admin;
            let security = op.get("security").unwrap_or(&doc["security"]);
            let admin = security
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s.get("adminToken").is_some());
            assert_eq!(
                admin, !public,
                "{} {}: adminToken",
                route.method, route.path
            );
            let codes = op["responses"].as_object().unwrap();
            assert!(
                codes.keys().any(|c| c.starts_with('2')),
                "{} {}: no success answer",
                route.method,
                route.path
            );
            assert!(
                codes.contains_key("500"),
                "{} {}: no 500",
                route.method,
                route.path
            );
            if admin {
                assert!(
                    codes.contains_key("401"),
                    "{} {}: no 401",
                    route.method,
                    route.path
                );
            }
            for (code, resp) in codes.iter().filter(|(c, _)| c.starts_with(['4', '5'])) {
                let name = resp["$ref"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/components/responses/"))
                    .unwrap_or_else(|| {
                        panic!("{} {} {code}: not a shared error", route.method, route.path)
                    });
                assert_eq!(
                    responses[name]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Error",
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        fn walk(v: &Value, doc: &Value) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        let pointer = r.strip_prefix('#').expect("local reference");
                        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
                    }
                    map.values().for_each(|v| walk(v, doc));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, doc)),
                _ => {}
            }
        }
        walk(&doc, &doc);
    }

    #[test]
    fn the_response_is_the_document() {
        let resp = super::response();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/json");
        match resp.body() {
            lambda_http::Body::Text(t) => assert_eq!(t, DOCUMENT),
            other => panic!("{other:?}"),
        }
    }
}
