//! The console: server-rendered pages (maud) at `/console`, served by the
//! `admin` function from the same route table. Every page reads and writes
//! through the admin API's own handlers, called in-process
//! ([`Ctx::api`]), so validation, masking and storage are the API's.
//!
//! One file per page: [`dashboard`] (the home, its SVG charts drawn by
//! [`charts`]), [`keys`], [`destinations`], [`leads`], [`events`],
//! [`deliveries`]; [`auth`] (session cookie, CSRF, Origin), [`layout`]
//! (the shell, fields, errors), [`form`] (posted fields and what was
//! wrong with them) and [`assets`] (one stylesheet, one small
//! progressive-enhancement script; no other host is ever referenced).

pub mod assets;
pub mod auth;
pub mod charts;
pub mod dashboard;
pub mod deliveries;
pub mod destination_form;
pub mod destination_kinds;
pub mod destinations;
pub mod events;
pub mod form;
pub mod keys;
pub mod layout;
pub mod lead_history;
pub mod leads;
pub mod routing;
pub mod sources;
pub mod workspaces;

pub use form::{Form, Problems, split_list};

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use maud::Markup;
use serde_json::Value;

use crate::admin::caller::Caller;
use crate::app::App;
use crate::error::FieldIssue;
use crate::http::error::ApiError;
use crate::http::routes::{self, Function, Matched};
use crate::http::{self as h};
use crate::model::tokens;
use crate::rules::clock;
use crate::rules::ids::WorkspaceId;
use auth::{Session, SessionKey};

/// A console page or form: routing vocabulary, kept with the route table.
pub use crate::http::routes::Page;

/// The Content-Security-Policy of every console answer: nothing from
/// another host, no inline script or style.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Largest form body read.
const MAX_FORM: usize = 256 * 1024;

/// What a page handler has: the app, the request, the session and who
/// signed in (acting in the session's workspace).
pub struct Ctx<'a> {
    pub app: &'a App,
    pub caller: Caller,
    pub session: Session,
    pub req: &'a Request,
    pub m: &'a Matched,
    /// The console's base URL (`https://host`).
    pub base: String,
    /// This session's CSRF token, for forms.
    pub csrf: String,
    pub session_key: SessionKey,
}

impl Ctx<'_> {
    /// A path parameter.
    pub fn param(&self, name: &str) -> &str {
        self.m.param(name)
    }

    /// The query parameters.
    pub fn query(&self) -> Vec<(String, String)> {
        h::query(self.req)
    }

    /// The form fields of a POST body (`application/x-www-form-urlencoded`).
    pub fn form(&self) -> Form {
        let body = self.req.body().as_ref();
        if body.len() > MAX_FORM {
            return Form(Vec::new());
        }
        Form(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Calls an admin API route in-process, as the signed-in admin:
    /// `Ok(body)` for a 2xx (JSON, or `Null` when empty), the API's error
    /// otherwise.
    pub async fn api(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<Value>,
    ) -> Result<Value, ApiError> {
        let resp = self.api_raw(method, path_and_query, body).await?;
        let bytes = resp.body().as_ref();
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(bytes).map_err(|e| {
            ApiError::Internal(crate::error::Error::Data(format!(
                "console: admin answer is not JSON: {e}"
            )))
        })
    }

    /// Like [`Ctx::api`], the response as it is.
    pub async fn api_raw(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<Value>,
    ) -> Result<Response<Body>, ApiError> {
        let mut b = http::Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(header::CONTENT_TYPE, "application/json");
        // The API builds URLs (a key's hook URL) from these.
        for name in ["host", "x-forwarded-host", "x-forwarded-proto"] {
            if let Some(v) = self.req.headers().get(name) {
                b = b.header(name, v.clone());
            }
        }
        let body = match body {
            Some(v) => Body::Binary(v.to_string().into_bytes()),
            None => Body::Empty,
        };
        let req: Request = b
            .body(body)
            .map_err(|_| ApiError::MalformedBody("bad console request".into()))?;
        let m = routes::resolve(method, req.uri().path(), Some(Function::Admin))?;
        // On the heap: the admin actions are large futures.
        Box::pin(crate::admin::act(&self.caller, &req, m)).await
    }
}

/// The `admin` function's console entry: authenticates, checks state
/// changes, runs the page, and wraps every answer in the security headers.
pub async fn handle(app: &App, req: &Request, m: &Matched, page: Page) -> Response<Body> {
    let mut resp = match Box::pin(serve(app, req, m, page)).await {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(code = e.code(), "console: rejected");
            error_page(&e)
        }
    };
    let headers = resp.headers_mut();
    headers.insert("content-security-policy", HeaderValue::from_static(CSP));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// Whether cookies must be `Secure`: wherever the console is on HTTPS.
fn secure(base: &str) -> bool {
    base.starts_with("https://")
}

async fn serve(
    app: &App,
    req: &Request,
    m: &Matched,
    page: Page,
) -> Result<Response<Body>, ApiError> {
    let base = h::base_url(req, app.config.public_url.as_deref());
    let post = req.method() == http::Method::POST;
    if page == Page::Asset {
        return Ok(assets::serve(m.param("file")));
    }
    if page == Page::Favicon {
        return Ok(assets::serve("favicon.svg"));
    }
    if post && !auth::same_origin(req.headers(), &base) {
        return Err(ApiError::Forbidden(
            "this form was not sent from the console's own page".into(),
        ));
    }
    let admin = app.admin_secret.get().await?;
    let key = SessionKey::derive(&admin.admin_token);
    let now = clock::now_ms();
    let session = auth::cookie_value(req.headers()).and_then(|v| Session::open(&key, v, now));
    match page {
        Page::SignInForm => {
            if session.is_some() {
                return Ok(redirect("/console"));
            }
            return Ok(html(StatusCode::OK, layout::sign_in(&Problems::none())));
        }
        Page::SignIn => {
            let form = Form(
                form_urlencoded::parse(req.body().as_ref())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect(),
            );
            let presented = form.get("token");
            let signed_in = if auth::token_matches(presented, &admin.admin_token) {
                Some(Session::new(now, auth::ROOT, WorkspaceId::DEFAULT))
            } else if presented.starts_with(tokens::TOKEN_PREFIX) {
                tokens::authenticate(app, presented)
                    .await?
                    .map(|t| Session::new(now, t.id.as_str(), t.workspace.as_str()))
            } else {
                None
            };
            let Some(s) = signed_in else {
                tracing::info!("console: sign-in refused");
                let p = Problems {
                    fields: vec![FieldIssue::new(
                        "token",
                        "is not this deployment's admin token nor a live workspace token",
                    )],
                    message: None,
                };
                return Ok(html(StatusCode::UNAUTHORIZED, layout::sign_in(&p)));
            };
            tracing::info!(principal = %s.principal, "console: signed in");
            let mut resp = redirect("/console");
            set_cookie(&mut resp, &auth::set_cookie(&s.seal(&key), secure(&base)));
            return Ok(resp);
        }
        _ => {}
    }
    let Some(session) = session else {
        if post {
            return Err(ApiError::Unauthorized);
        }
        return Ok(redirect("/console/sign-in"));
    };
    let csrf = session.csrf(&key);
    if post {
        let presented = h::header(req.headers(), "x-csrf-token")
            .map(str::to_owned)
            .unwrap_or_else(|| {
                form_urlencoded::parse(req.body().as_ref())
                    .find(|(k, _)| k == "csrf")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            });
        if !session.csrf_ok(&key, &presented) {
            return Err(ApiError::Forbidden(
                "this form has expired; reload the page and try again".into(),
            ));
        }
    }
    // Who the session is, read again on every request: a revoked token or
    // a deleted workspace ends the session at once.
    let Some(caller) = session_caller(app, req, &session).await? else {
        let mut resp = redirect("/console/sign-in");
        set_cookie(&mut resp, &auth::clear_cookie(secure(&base)));
        return Ok(resp);
    };
    let ctx = Ctx {
        app,
        caller,
        session,
        req,
        m,
        base: base.clone(),
        csrf,
        session_key: key.clone(),
    };
    // Each page's future on the heap: the dispatch's frame stays small
    // however many pages there are.
    let answer: Answer<'_> = match page {
        Page::SignOut => {
            let mut resp = redirect("/console/sign-in");
            set_cookie(&mut resp, &auth::clear_cookie(secure(&base)));
            return Ok(resp);
        }
        Page::Home => Box::pin(dashboard::show(&ctx)),
        Page::Keys => Box::pin(keys::list(&ctx)),
        Page::KeyCreate => Box::pin(keys::create(&ctx)),
        Page::Key => Box::pin(keys::show(&ctx)),
        Page::KeyEdit => Box::pin(keys::edit(&ctx)),
        Page::KeyReveal => Box::pin(keys::reveal(&ctx)),
        Page::KeyRotate => Box::pin(keys::rotate(&ctx)),
        Page::KeyTestLead => Box::pin(sources::test_lead(&ctx)),
        Page::KeyDelete => Box::pin(keys::delete(&ctx)),
        Page::Destinations => Box::pin(destinations::list(&ctx)),
        Page::DestinationCreate => Box::pin(destinations::create(&ctx)),
        Page::Destination => Box::pin(destinations::show(&ctx)),
        Page::DestinationEdit => Box::pin(destinations::edit(&ctx)),
        Page::DestinationTest => Box::pin(destinations::test(&ctx)),
        Page::DestinationRotate => Box::pin(destinations::rotate(&ctx)),
        Page::DestinationToggle => Box::pin(destinations::toggle(&ctx)),
        Page::DestinationDelete => Box::pin(destinations::delete(&ctx)),
        Page::Leads => Box::pin(leads::list(&ctx)),
        Page::LeadsExport => Box::pin(leads::export(&ctx)),
        Page::Lead => Box::pin(leads::show(&ctx)),
        Page::LeadEdit => Box::pin(leads::edit(&ctx)),
        Page::Events => Box::pin(events::list(&ctx)),
        Page::EventReplay => Box::pin(events::replay(&ctx)),
        Page::Deliveries => Box::pin(deliveries::list(&ctx)),
        Page::Delivery => Box::pin(deliveries::show(&ctx)),
        Page::DeliveryRetry => Box::pin(deliveries::retry(&ctx)),
        Page::DlqRedrive => Box::pin(deliveries::redrive(&ctx)),
        Page::LeadErase => Box::pin(leads::erase(&ctx)),
        Page::Workspaces => Box::pin(workspaces::list(&ctx)),
        Page::WorkspaceCreate => Box::pin(workspaces::create(&ctx)),
        Page::WorkspaceSwitch => Box::pin(workspaces::switch(&ctx)),
        Page::TokenCreate => Box::pin(workspaces::create_token(&ctx)),
        Page::TokenRevoke => Box::pin(workspaces::revoke_token(&ctx)),
        Page::Audit => Box::pin(workspaces::audit(&ctx)),
        Page::Event => Box::pin(events::show(&ctx)),
        Page::SignInForm | Page::SignIn | Page::Asset | Page::Favicon => {
            return Err(ApiError::NotFound("page"));
        }
    };
    answer.await
}

/// A page's answer, on the heap.
type Answer<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Response<Body>, ApiError>> + Send + 'a>,
>;

/// The caller a session stands for, if its token and workspace still exist.
async fn session_caller(
    app: &App,
    req: &Request,
    session: &Session,
) -> Result<Option<Caller>, ApiError> {
    let Some(ws) = WorkspaceId::parse(&session.workspace) else {
        return Ok(None);
    };
    if session.principal == auth::ROOT {
        if crate::model::workspaces::get(app, &ws).await?.is_none() {
            return Ok(None);
        }
        return Ok(Some(Caller::root(app, ws, req, "console")));
    }
    let token = tokens::get(app, &ws, &session.principal).await?;
    Ok(token.map(|t| Caller::token(app, &t, req, "console")))
}

/// Re-issues the session's cookie on `resp`.
pub fn reissue(resp: &mut Response<Body>, ctx: &Ctx<'_>, session: &Session) {
    let admin_key = ctx.session_key.clone();
    set_cookie(
        resp,
        &auth::set_cookie(&session.seal(&admin_key), secure(&ctx.base)),
    );
}

fn set_cookie(resp: &mut Response<Body>, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// An HTML answer.
pub fn html(status: StatusCode, page: Markup) -> Response<Body> {
    let mut resp = Response::new(Body::Text(page.into_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// `303 See Other` to a console path.
pub fn redirect(to: &str) -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// The page for an error no form can show beside a field.
fn error_page(e: &ApiError) -> Response<Body> {
    let status = e.status();
    let (title, text) = match e {
        ApiError::Unauthorized => (
            "Signed out",
            "Your session has ended. Sign in again to continue.".to_owned(),
        ),
        ApiError::NotFound(what) => (
            "Not found",
            format!("This {what} does not exist (any more). It may have been deleted."),
        ),
        ApiError::Internal(_) => (
            "Something went wrong",
            "Leadpipe could not answer. Try again in a moment; the logs have the details."
                .to_owned(),
        ),
        other => ("Not done", other.to_string()),
    };
    html(status, layout::message_page(title, &text))
}

/// The id in a path is one of ours: letters, digits, `_` and `-` only
/// (anything else cannot exist and is not echoed into an API path).
pub fn safe_id(id: &str) -> Result<&str, ApiError> {
    if !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(id)
    } else {
        Err(ApiError::NotFound("page"))
    }
}

/// A query string from pairs, percent-encoded.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        s.append_pair(k, v);
    }
    let q = s.finish();
    if q.is_empty() { q } else { format!("?{q}") }
}
