//! The page shell (head, navigation, sign-out), form fields with their
//! errors beside them, times and small shared pieces. maud escapes every
//! interpolated value.

use maud::{DOCTYPE, Markup, html};

use super::{Ctx, Problems};
use crate::console::assets;

/// The sections of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Keys,
    Destinations,
    Leads,
    Events,
    Deliveries,
    Workspace,
    Audit,
}

const SECTIONS: [(Nav, &str, &str); 8] = [
    (Nav::Overview, "Overview", "/console"),
    (Nav::Keys, "Keys", "/console/keys"),
    (Nav::Destinations, "Destinations", "/console/destinations"),
    (Nav::Leads, "Leads", "/console/leads"),
    (Nav::Events, "Events", "/console/events"),
    (Nav::Deliveries, "Deliveries", "/console/deliveries"),
    (Nav::Workspace, "Workspace", "/console/workspaces"),
    (Nav::Audit, "Audit", "/console/audit"),
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="referrer" content="same-origin";
            title { (title) " · Leadpipe" }
            link rel="icon" href="/favicon.ico" type="image/svg+xml";
            link rel="stylesheet" href=(assets::STYLE_URL);
            script src=(assets::SCRIPT_URL) defer {}
        }
    }
}

/// A signed-in page.
pub fn page(ctx: &Ctx<'_>, title: &str, nav: Nav, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/console" { "Leadpipe" }
                    nav aria-label="Sections" {
                        ul {
                            @for (n, label, href) in SECTIONS {
                                li {
                                    @if n == nav {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    p.whoami {
                        "Workspace " code { (ctx.caller.scope.ws()) }
                        @if ctx.caller.is_root() {
                            " · " a href="/console/workspaces" { "switch" }
                        } @else if ctx.caller.is_viewer() {
                            " · viewer"
                        }
                    }
                    form.signout method="post" action="/console/sign-out" {
                        (csrf(ctx))
                        button.link type="submit" { "Sign out" }
                    }
                }
                main #main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page outside the session (sign-in, errors).
fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.top { a.brand href="/console" { "Leadpipe" } }
                main #main.narrow { h1 { (title) } (body) }
            }
        }
    }
}

/// The sign-in page: the admin token, once.
pub fn sign_in(p: &Problems) -> Markup {
    bare(
        "Sign in",
        html! {
            p { "Paste this deployment's admin token, or a workspace token (lpt_…) to sign in to that workspace. "
                "It is checked once and never shown again; the console keeps a signed session cookie for 8 hours." }
            form method="post" action="/console/sign-in" {
                (field_password("token", "Admin or workspace token", p, "adm_… (printed by make dev, or in the admin secret) or lpt_…"))
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// A page with one message (errors without a form).
pub fn message_page(title: &str, text: &str) -> Markup {
    bare(
        title,
        html! {
            p { (text) }
            p { a href="/console" { "Back to the console" } }
        },
    )
}

/// The hidden CSRF field of every form.
pub fn csrf(ctx: &Ctx<'_>) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.csrf); }
}

/// A time, in UTC on the server, converted to the viewer's zone by the
/// script.
pub fn time(ts: &str) -> Markup {
    if ts.is_empty() {
        return html! { "—" };
    }
    html! { time datetime=(ts) { (ts.replace('T', " ").trim_end_matches('Z').split('.').next().unwrap_or(ts)) " UTC" } }
}

/// An optional time.
pub fn time_opt(ts: Option<&str>) -> Markup {
    match ts {
        Some(t) => time(t),
        None => html! { "—" },
    }
}

/// The form-level message, if any.
pub fn problems_banner(p: &Problems) -> Markup {
    html! {
        @if let Some(m) = &p.message {
            div.banner.error role="alert" { (m) }
        }
    }
}

/// A flash message after a redirect (`?done=`), from a fixed list.
pub fn notice(text: Option<&str>) -> Markup {
    html! {
        @if let Some(t) = text {
            div.banner.ok role="status" { (t) }
        }
    }
}

fn errors(name: &str, p: &Problems) -> Markup {
    let issues = p.of(name);
    html! {
        @if !issues.is_empty() {
            p.field-error id={ "err-" (name) } {
                @for (i, issue) in issues.iter().enumerate() {
                    @if i > 0 { br; }
                    (label_of(name)) " " (issue)
                }
            }
        }
    }
}

/// The API names fields in camelCase; the forms say them in words.
fn label_of(field: &str) -> String {
    let mut out = String::new();
    for c in field.chars() {
        if c.is_ascii_uppercase() {
            out.push(' ');
            out.push(c.to_ascii_lowercase());
        } else if c == '.' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    let mut chars = out.chars();
    match chars.next() {
        Some(f) => f.to_uppercase().collect::<String>() + chars.as_str(),
        None => out,
    }
}

fn described(name: &str, p: &Problems, hint: bool) -> Option<String> {
    let mut ids = Vec::new();
    if hint {
        ids.push(format!("hint-{name}"));
    }
    if !p.of(name).is_empty() {
        ids.push(format!("err-{name}"));
    }
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// A text field with its label, hint and errors.
pub fn field(name: &str, label: &str, value: &str, p: &Problems, hint: &str) -> Markup {
    let invalid = !p.of(name).is_empty();
    html! {
        div.field {
            label for={ "f-" (name) } { (label) }
            input type="text" id={ "f-" (name) } name=(name) value=(value)
                aria-invalid=[invalid.then_some("true")]
                aria-describedby=[described(name, p, !hint.is_empty())];
            @if !hint.is_empty() { p.hint id={ "hint-" (name) } { (hint) } }
            (errors(name, p))
        }
    }
}

/// A password field (never pre-filled).
pub fn field_password(name: &str, label: &str, p: &Problems, hint: &str) -> Markup {
    let invalid = !p.of(name).is_empty();
    html! {
        div.field {
            label for={ "f-" (name) } { (label) }
            input type="password" id={ "f-" (name) } name=(name) autocomplete="off" required
                aria-invalid=[invalid.then_some("true")]
                aria-describedby=[described(name, p, !hint.is_empty())];
            @if !hint.is_empty() { p.hint id={ "hint-" (name) } { (hint) } }
            (errors(name, p))
        }
    }
}

/// A multi-line field.
pub fn textarea(name: &str, label: &str, value: &str, p: &Problems, hint: &str) -> Markup {
    let invalid = !p.of(name).is_empty();
    html! {
        div.field {
            label for={ "f-" (name) } { (label) }
            textarea id={ "f-" (name) } name=(name) rows="5" spellcheck="false"
                aria-invalid=[invalid.then_some("true")]
                aria-describedby=[described(name, p, !hint.is_empty())] { (value) }
            @if !hint.is_empty() { p.hint id={ "hint-" (name) } { (hint) } }
            (errors(name, p))
        }
    }
}

/// A value with a copy button (the script copies the element's text).
pub fn copyable(id: &str, value: &str) -> Markup {
    html! {
        span.copyable {
            code id=(id) { (value) }
            button.small type="button" data-copy=(id) { "Copy" }
        }
    }
}

/// A form with one button; `confirm` asks first (the script), and the
/// no-script fallback is the button itself.
pub fn action(ctx: &Ctx<'_>, to: &str, label: &str, confirm: Option<&str>, danger: bool) -> Markup {
    html! {
        form.inline method="post" action=(to) data-confirm=[confirm] {
            (csrf(ctx))
            button type="submit" class=[danger.then_some("danger")] { (label) }
        }
    }
}

/// A status as a badge.
pub fn badge(status: &str) -> Markup {
    let class = match status {
        "PROCESSED" | "delivered" | "enabled" | "active" | "healthy" => "badge good",
        "FAILED" | "dead" | "disabled" | "failing" => "badge bad",
        "DUPLICATE" => "badge info",
        _ => "badge",
    };
    html! { span class=(class) { (status) } }
}

/// An empty state that says what to do next.
pub fn empty(title: &str, next: Markup) -> Markup {
    html! {
        div.empty {
            p { strong { (title) } }
            (next)
        }
    }
}

/// "Next page" when there is one.
pub fn pager(path: &str, pairs: &[(&str, &str)], next: Option<&str>) -> Markup {
    let Some(c) = next else {
        return html! {};
    };
    let mut all = pairs.to_vec();
    all.push(("cursor", c));
    let href = format!("{path}{}", super::query_string(&all));
    html! { p.pager { a href=(href) { "Next page →" } } }
}

/// Text cut to `n` characters, with an ellipsis when cut.
pub fn cut(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        text.to_owned()
    } else {
        text.chars().take(n).collect::<String>() + "…"
    }
}

/// Where the script says a live list was last refreshed (`data-live`
/// regions: the script fetches the same page again and swaps the region,
/// no reload; without the script the list is as loaded).
pub fn live_status() -> Markup {
    html! { p.live-status.muted #live-status role="status" aria-live="polite" {} }
}
