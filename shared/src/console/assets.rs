//! The console's assets, compiled into the binary: one stylesheet, one
//! progressive-enhancement script (copy buttons, show/hide of a key's
//! token, confirmations, local times, live lists) and the icon served at
//! `/favicon.ico`. Every page works without the script.

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};

pub const STYLE: &str = include_str!("static/console.css");
pub const SCRIPT: &str = include_str!("static/console.js");
/// The icon: SVG, which every current browser takes at `/favicon.ico`
/// when the type says so.
pub const FAVICON: &str = include_str!("static/favicon.svg");

/// Versioned URLs, so a deployment's browsers never mix old and new.
pub const STYLE_URL: &str = concat!("/console/assets/console.css?v=", env!("CARGO_PKG_VERSION"));
pub const SCRIPT_URL: &str = concat!("/console/assets/console.js?v=", env!("CARGO_PKG_VERSION"));

/// `GET /console/assets/{file}` (and `/favicon.ico`: `favicon.svg`).
pub fn serve(file: &str) -> Response<Body> {
    let (body, content_type) = match file {
        "console.css" => (STYLE, "text/css; charset=utf-8"),
        "console.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "favicon.svg" => (FAVICON, "image/svg+xml"),
        _ => {
            let mut resp = Response::new(Body::Text("not found".into()));
            *resp.status_mut() = StatusCode::NOT_FOUND;
            return resp;
        }
    };
    let mut resp = Response::new(Body::Text(body.to_owned()));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    resp
}
