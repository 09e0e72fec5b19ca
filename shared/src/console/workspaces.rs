//! Workspaces: the root switches between them and creates them; the
//! current workspace's tokens (created and shown once, revoked at once);
//! the audit trail.

use http::StatusCode;
use lambda_http::{Body, Response};
use maud::{Markup, html};
use serde_json::{Value, json};

use super::layout::{self, Nav};
use super::{Ctx, Problems, html as page_html, query_string, redirect, reissue, safe_id};
use crate::http::error::ApiError;
use crate::http::query_param;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

/// `GET /console/workspaces`.
pub async fn list(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let q = ctx.query();
    let notice = match query_param(&q, "done") {
        Some("switched") => Some("Switched: every page now shows this workspace."),
        Some("created") => {
            Some("Workspace created. Switch to it to add its keys and destinations.")
        }
        Some("revoked") => Some("Token revoked: it stopped working at once."),
        _ => None,
    };
    render(ctx, &Problems::none(), notice, None, StatusCode::OK).await
}

async fn render(
    ctx: &Ctx<'_>,
    problems: &Problems,
    notice: Option<&str>,
    new_token: Option<&Value>,
    status: StatusCode,
) -> Result<Response<Body>, ApiError> {
    let current = ctx.api("GET", "/v1/workspace", None).await?;
    let root = ctx.caller.is_root();
    let all = if root {
        ctx.api("GET", "/v1/workspaces?limit=200", None).await?["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let tokens = if root {
        ctx.api(
            "GET",
            &format!("/v1/workspaces/{}/tokens?limit=200", s(&current, "id")),
            None,
        )
        .await?["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let body = html! {
        (layout::notice(notice))
        (layout::problems_banner(problems))
        section {
            h2 { "This workspace" }
            p { "You are in " strong { (s(&current, "name")) } " (" code { (s(&current, "id")) } "). "
                "Events, deliveries and attempt logs are kept " (current["retentionDays"].as_u64().unwrap_or(90))
                " days; leads stay until erased." }
            @if !root {
                p { "You signed in with a workspace token: you see this workspace only." }
            }
        }
        @if root {
            section {
                h2 { "Switch workspace" }
                div.table-wrap { table {
                    thead { tr { th { "Name" } th { "Id" } th { "Created" } th { span.offscreen { "Actions" } } } }
                    tbody {
                        @for w in &all {
                            tr {
                                td { (s(w, "name")) }
                                td { code { (s(w, "id")) } }
                                td { (layout::time_opt(w["createdAt"].as_str())) }
                                td {
                                    @if s(w, "id") == s(&current, "id") { span.badge { "current" } }
                                    @else { (layout::action(ctx, &format!("/console/workspaces/{}/switch", s(w, "id")), "Switch", None, false)) }
                                }
                            }
                        }
                    }
                } }
                form method="post" action="/console/workspaces" {
                    (layout::csrf(ctx))
                    (layout::field("name", "New workspace", "", problems, "A client or brand: its leads, keys and destinations are its own."))
                    button type="submit" { "Create workspace" }
                }
            }
            section {
                h2 { "Tokens of this workspace" }
                p { "A token acts in this workspace only, on the same API: " strong { "admin" } " reads and writes, "
                    strong { "viewer" } " only reads and never sees a secret. It is shown once." }
                @if let Some(t) = new_token {
                    div.banner.ok role="status" {
                        p { "New token " strong { (s(t, "name")) } " (" (s(t, "role")) "). Copy it now: it is not shown again." }
                        (layout::copyable("new-token", s(t, "token")))
                    }
                }
                @if tokens.is_empty() {
                    p { "No tokens yet." }
                } @else {
                    div.table-wrap { table {
                        thead { tr { th { "Name" } th { "Role" } th { "Token" } th { "Created" } th { span.offscreen { "Actions" } } } }
                        tbody {
                            @for t in &tokens {
                                tr {
                                    td { (s(t, "name")) }
                                    td { (s(t, "role")) }
                                    td { code { (s(t, "token")) } }
                                    td { (layout::time(s(t, "createdAt"))) }
                                    td { (layout::action(ctx, &format!("/console/tokens/{}/revoke", s(t, "id")), "Revoke",
                                        Some("Revoke this token? Everything using it stops at once."), true)) }
                                }
                            }
                        }
                    } }
                }
                form method="post" action="/console/tokens" {
                    (layout::csrf(ctx))
                    (layout::field("name", "Token name", "", problems, "Who or what uses it: \"Agency CRM sync\"."))
                    p {
                        label for="role" { "Role" }
                        br;
                        select #role name="role" {
                            option value="viewer" { "viewer — reads only" }
                            option value="admin" { "admin — reads and writes" }
                        }
                    }
                    button type="submit" { "Create token" }
                }
            }
        }
    };
    Ok(page_html(
        status,
        layout::page(ctx, "Workspace", Nav::Workspace, body),
    ))
}

/// `POST /console/workspaces`.
pub async fn create(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let form = ctx.form();
    match ctx
        .api(
            "POST",
            "/v1/workspaces",
            Some(json!({"name": form.get("name")})),
        )
        .await
    {
        Ok(_) => Ok(redirect("/console/workspaces?done=created")),
        Err(e) => {
            let p = Problems::from_api(&e, "name");
            render(ctx, &p, None, None, e.status()).await
        }
    }
}

/// `POST /console/workspaces/{id}/switch`: the root's session moves.
pub async fn switch(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    if !ctx.caller.is_root() {
        return Err(ApiError::Forbidden(
            "a workspace token stays in its workspace".into(),
        ));
    }
    let id = safe_id(ctx.param("id"))?;
    // Must exist (a 404 otherwise).
    ctx.api("GET", &format!("/v1/workspaces/{id}"), None)
        .await?;
    let mut resp = redirect("/console/workspaces?done=switched");
    reissue(&mut resp, ctx, &ctx.session.in_workspace(id));
    Ok(resp)
}

/// `POST /console/tokens`: a token of the current workspace, shown once.
pub async fn create_token(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let form = ctx.form();
    let ws = ctx.caller.scope.ws().to_string();
    match ctx
        .api(
            "POST",
            &format!("/v1/workspaces/{ws}/tokens"),
            Some(json!({"name": form.get("name"), "role": form.get("role")})),
        )
        .await
    {
        Ok(token) => {
            render(
                ctx,
                &Problems::none(),
                None,
                Some(&token),
                StatusCode::CREATED,
            )
            .await
        }
        Err(e) => {
            let p = Problems::from_api(&e, "name");
            render(ctx, &p, None, None, e.status()).await
        }
    }
}

/// `POST /console/tokens/{id}/revoke`.
pub async fn revoke_token(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    let ws = ctx.caller.scope.ws().to_string();
    ctx.api("DELETE", &format!("/v1/workspaces/{ws}/tokens/{id}"), None)
        .await?;
    Ok(redirect("/console/workspaces?done=revoked"))
}

fn actor(a: &Value) -> Markup {
    html! {
        @match a["type"].as_str() {
            Some("root") => { "admin token (root)" }
            _ => { (s(a, "name")) " " code { (s(a, "tokenId")) } }
        }
    }
}

/// `GET /console/audit`: the workspace's trail, newest first.
pub async fn audit(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let q = ctx.query();
    let cursor = query_param(&q, "cursor").unwrap_or("");
    let page = ctx
        .api(
            "GET",
            &format!(
                "/v1/audit{}",
                query_string(&[("limit", "50"), ("cursor", cursor)])
            ),
            None,
        )
        .await?;
    let items = page["items"].as_array().cloned().unwrap_or_default();
    let body = html! {
        p { "Every change made through the API or this console, in this workspace: who, what, when and from where." }
        @if items.is_empty() {
            (layout::empty("No changes recorded yet.", html! { p { "Create a key or a destination and it shows here." } }))
        } @else {
            div.table-wrap { table {
                thead { tr { th { "When" } th { "Who" } th { "What" } th { "Object" } th { "From" } th { "Via" } } }
                tbody {
                    @for e in &items {
                        tr {
                            td { (layout::time(s(e, "at"))) }
                            td { (actor(&e["actor"])) }
                            td { code { (s(e, "action")) } }
                            td { @if let Some(o) = e["objectId"].as_str() { code { (o) } } }
                            td { (s(e, "ip")) br; small { (layout::cut(s(e, "userAgent"), 60)) } }
                            td { (s(e, "via")) }
                        }
                    }
                }
            } }
            (layout::pager("/console/audit", &[], page["nextCursor"].as_str()))
        }
    };
    Ok(page_html(
        StatusCode::OK,
        layout::page(ctx, "Audit trail", Nav::Audit, body),
    ))
}
