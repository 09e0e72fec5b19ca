//! The console's session: the admin token is typed once on the sign-in
//! page; the answer is a signed, expiring cookie (HMAC-SHA256 under a key
//! derived from the admin token, so changing the token signs everyone out).
//! The cookie is `HttpOnly`, `SameSite=Strict`, `Secure` wherever the
//! console is served over HTTPS (everywhere but `make dev`), and scoped to
//! `/console`. Every state change must come from the console's own origin
//! (`Origin`, else `Referer`) and carry the session's CSRF token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::Sha256;

use crate::http::header;
use crate::rules::crypto::{constant_time_eq, random_token};

/// The cookie's name.
pub const COOKIE: &str = "leadpipe_console";
/// How long a session lasts.
pub const SESSION_TTL_MS: i64 = 8 * 3600 * 1000;
/// Clock skew tolerated on the issue time.
const SKEW_MS: i64 = 5 * 60 * 1000;

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length.
    let mut m = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// The session-signing key: HMAC(admin token, a fixed label).
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl SessionKey {
    pub fn derive(admin_token: &str) -> Self {
        SessionKey(mac(
            admin_token.as_bytes(),
            &[b"leadpipe console session v1"],
        ))
    }
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

/// A verified session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub issued_ms: i64,
    pub expires_ms: i64,
    /// Random, per session: the CSRF token is derived from it.
    pub nonce: String,
    /// Who signed in: `root` (the admin token) or a workspace token's id.
    pub principal: String,
    /// The workspace the session acts in (the root switches it).
    pub workspace: String,
}

/// The principal of a session signed in with the deployment's admin token.
pub const ROOT: &str = "root";

impl Session {
    /// A new session starting at `now_ms`.
    pub fn new(now_ms: i64, principal: &str, workspace: &str) -> Self {
        Session {
            issued_ms: now_ms,
            expires_ms: now_ms + SESSION_TTL_MS,
            nonce: random_token(16),
            principal: principal.to_owned(),
            workspace: workspace.to_owned(),
        }
    }

    /// The same session, acting in another workspace.
    pub fn in_workspace(&self, workspace: &str) -> Self {
        Session {
            workspace: workspace.to_owned(),
            ..self.clone()
        }
    }

    /// The cookie value:
    /// `v2.<issued>.<expires>.<nonce>.<principal>.<workspace>.<base64url mac>`.
    pub fn seal(&self, key: &SessionKey) -> String {
        let payload = format!(
            "v2.{}.{}.{}.{}.{}",
            self.issued_ms, self.expires_ms, self.nonce, self.principal, self.workspace
        );
        let tag = mac(&key.0, &[payload.as_bytes()]);
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// Opens a cookie value: the signature must match (compared in
    /// constant time) and the session must not have expired.
    pub fn open(key: &SessionKey, value: &str, now_ms: i64) -> Option<Session> {
        let (payload, tag) = value.rsplit_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let want = mac(&key.0, &[payload.as_bytes()]);
        if !constant_time_eq(&tag, &want) {
            return None;
        }
        let mut parts = payload.split('.');
        if parts.next()? != "v2" {
            return None;
        }
        let issued_ms: i64 = parts.next()?.parse().ok()?;
        let expires_ms: i64 = parts.next()?.parse().ok()?;
        let nonce = parts.next()?.to_owned();
        let principal = parts.next()?.to_owned();
        let workspace = parts.next()?.to_owned();
        if parts.next().is_some()
            || nonce.is_empty()
            || principal.is_empty()
            || workspace.is_empty()
            || expires_ms <= now_ms
            || issued_ms > now_ms + SKEW_MS
            || expires_ms - issued_ms > SESSION_TTL_MS
        {
            return None;
        }
        Some(Session {
            issued_ms,
            expires_ms,
            nonce,
            principal,
            workspace,
        })
    }

    /// The CSRF token every form of this session carries.
    pub fn csrf(&self, key: &SessionKey) -> String {
        URL_SAFE_NO_PAD.encode(mac(&key.0, &[b"csrf.", self.nonce.as_bytes()]))
    }

    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn csrf_ok(&self, key: &SessionKey, presented: &str) -> bool {
        constant_time_eq(presented.as_bytes(), self.csrf(key).as_bytes())
    }
}

/// The session cookie's value from a `Cookie` header, if any.
pub fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
}

/// `Set-Cookie` for a new session.
pub fn set_cookie(value: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={value}; Path=/console; Max-Age={}; HttpOnly; SameSite=Strict{}",
        SESSION_TTL_MS / 1000,
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` that ends the session in the browser.
pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path=/console; Max-Age=0; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// `scheme://host[:port]` of a URL, lower-cased.
fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let origin = u.origin();
    origin
        .is_tuple()
        .then(|| origin.ascii_serialization().to_ascii_lowercase())
}

/// Whether a state-changing request comes from the console's own origin:
/// `Origin` (else `Referer`) must be `expected` (the console's base URL) or
/// name the host the request was sent to. A request with neither header,
/// or a cross-site `Sec-Fetch-Site`, is refused.
pub fn same_origin(headers: &HeaderMap, expected: &str) -> bool {
    if header(headers, "sec-fetch-site").is_some_and(|s| s.eq_ignore_ascii_case("cross-site")) {
        return false;
    }
    let presented = match header(headers, "origin") {
        Some(o) => origin_of(o),
        None => header(headers, "referer").and_then(origin_of),
    };
    let Some(presented) = presented else {
        return false;
    };
    if origin_of(expected).is_some_and(|e| e == presented) {
        return true;
    }
    // Behind a proxy that does not say its scheme, the host is enough.
    let host = header(headers, "x-forwarded-host").or_else(|| header(headers, "host"));
    match (host, presented.split_once("://")) {
        (Some(h), Some((_, authority))) => authority.eq_ignore_ascii_case(h),
        _ => false,
    }
}

/// Whether the presented admin token is the admin token (constant time).
pub fn token_matches(presented: &str, admin_token: &str) -> bool {
    constant_time_eq(presented.trim().as_bytes(), admin_token.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const NOW: i64 = 1_770_000_000_000;

    fn key() -> SessionKey {
        SessionKey::derive("adm_test_token")
    }

    #[test]
    fn a_sealed_session_opens_until_it_expires() {
        let s = Session::new(NOW, ROOT, "default");
        let v = s.seal(&key());
        assert_eq!(Session::open(&key(), &v, NOW + 1000), Some(s.clone()));
        assert_eq!(Session::open(&key(), &v, s.expires_ms - 1), Some(s.clone()));
        assert_eq!(Session::open(&key(), &v, s.expires_ms), None, "expired");
        assert_eq!(
            Session::open(&key(), &v, NOW - SKEW_MS - 1),
            None,
            "issued in the future"
        );
    }

    #[test]
    fn tampering_or_another_admin_token_fails() {
        let s = Session::new(NOW, ROOT, "default");
        let v = s.seal(&key());
        // Extend the expiry without re-signing.
        let forged = v.replacen(
            &format!(".{}.", s.expires_ms),
            &format!(".{}.", s.expires_ms + 1),
            1,
        );
        assert_ne!(forged, v);
        assert_eq!(Session::open(&key(), &forged, NOW), None);
        // Flip the last character of the signature.
        let mut bad = v.clone();
        let last = bad.pop().unwrap_or('A');
        bad.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(Session::open(&key(), &bad, NOW), None);
        assert_eq!(
            Session::open(&SessionKey::derive("adm_other"), &v, NOW),
            None
        );
        for junk in ["", ".", "v1", "v1.1.2.n", "a.b.c.d.e.f", "v1.x.y.z.QUJD"] {
            assert_eq!(Session::open(&key(), junk, NOW), None, "{junk}");
        }
    }

    #[test]
    fn a_session_longer_than_the_ttl_is_refused_even_if_signed() {
        let s = Session {
            issued_ms: NOW,
            expires_ms: NOW + SESSION_TTL_MS + 1,
            nonce: "n".into(),
            principal: ROOT.into(),
            workspace: "default".into(),
        };
        assert_eq!(Session::open(&key(), &s.seal(&key()), NOW), None);
    }

    #[test]
    fn the_principal_and_workspace_are_sealed_in() {
        let s = Session::new(NOW, "tok_x", "ws_y");
        let opened = Session::open(&key(), &s.seal(&key()), NOW).unwrap();
        assert_eq!(
            (opened.principal.as_str(), opened.workspace.as_str()),
            ("tok_x", "ws_y")
        );
        let moved = s.in_workspace("ws_z");
        assert_eq!(moved.nonce, s.nonce);
        // Editing the workspace in the cookie breaks its signature.
        let forged = s.seal(&key()).replace("ws_y", "ws_z");
        assert_eq!(Session::open(&key(), &forged, NOW), None);
    }

    #[test]
    fn csrf_is_per_session() {
        let a = Session::new(NOW, ROOT, "default");
        let b = Session::new(NOW, ROOT, "default");
        assert!(a.csrf_ok(&key(), &a.csrf(&key())));
        assert!(!a.csrf_ok(&key(), &b.csrf(&key())));
        assert!(!a.csrf_ok(&key(), ""));
    }

    #[test]
    fn cookies() {
        let mut h = HeaderMap::new();
        h.insert(
            "cookie",
            HeaderValue::from_static("a=1; leadpipe_console=v1.x.y; b=2"),
        );
        assert_eq!(cookie_value(&h), Some("v1.x.y"));
        let set = set_cookie("v", true);
        for attr in [
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Path=/console",
            "Max-Age=28800",
        ] {
            assert!(set.contains(attr), "{set}");
        }
        assert!(!set_cookie("v", false).contains("Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn origin_check() {
        let base = "https://api.example.com";
        assert!(same_origin(
            &headers(&[("origin", "https://api.example.com")]),
            base
        ));
        assert!(same_origin(
            &headers(&[("referer", "https://api.example.com/console/keys")]),
            base
        ));
        assert!(!same_origin(
            &headers(&[("origin", "https://evil.example")]),
            base
        ));
        assert!(!same_origin(&headers(&[("origin", "null")]), base));
        assert!(!same_origin(&headers(&[]), base), "no origin at all");
        assert!(!same_origin(
            &headers(&[
                ("origin", "https://api.example.com"),
                ("sec-fetch-site", "cross-site")
            ]),
            base
        ));
        // The host the request went to, when the base URL is configured
        // differently (a custom domain in front).
        assert!(same_origin(
            &headers(&[
                ("origin", "http://127.0.0.1:3000"),
                ("host", "127.0.0.1:3000")
            ]),
            base
        ));
        assert!(!same_origin(
            &headers(&[
                ("origin", "http://127.0.0.1:3001"),
                ("host", "127.0.0.1:3000")
            ]),
            base
        ));
    }

    #[test]
    fn admin_token_compare() {
        assert!(token_matches(" adm_x ", "adm_x"));
        assert!(!token_matches("adm_y", "adm_x"));
        assert!(!token_matches("", "adm_x"));
    }
}
