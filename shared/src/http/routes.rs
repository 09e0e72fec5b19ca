//! The HTTP route table, written once: the local stack serves it, each
//! function dispatches on it, and the infra parity test checks API Gateway's
//! routes against it.

use crate::http::error::ApiError;

/// Leadpipe's Lambda functions (the HTTP ones serve routes; `process` and
/// `deliver` consume queues; `sweep` runs on a schedule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Ingest,
    MetaVerify,
    Process,
    Deliver,
    Admin,
    Sweep,
}

impl Function {
    pub const ALL: [Function; 6] = [
        Function::Ingest,
        Function::MetaVerify,
        Function::Process,
        Function::Deliver,
        Function::Admin,
        Function::Sweep,
    ];

    /// The function's name (its crate under `functions/`).
    pub const fn name(self) -> &'static str {
        match self {
            Function::Ingest => "ingest",
            Function::MetaVerify => "meta-verify",
            Function::Process => "process",
            Function::Deliver => "deliver",
            Function::Admin => "admin",
            Function::Sweep => "sweep",
        }
    }
}

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    HookPost,
    HookPreflight,
    HookPage,
    MetaNotification,
    MetaHandshake,
    MetaDataDeletion,
    MetaDataDeletionStatus,
    Health,
    KeysCreate,
    KeysList,
    KeyGet,
    KeyUpdate,
    KeyDelete,
    KeyRotate,
    KeyTestLead,
    EventGet,
    EventsList,
    EventReplay,
    LeadsList,
    LeadsExport,
    LeadGet,
    LeadUpdate,
    LeadErase,
    SubscriptionsCreate,
    SubscriptionsList,
    SubscriptionGet,
    SubscriptionUpdate,
    SubscriptionDelete,
    SubscriptionRotateSecret,
    SubscriptionTest,
    DeliveriesList,
    DeliveryGet,
    DeliveryRetry,
    DlqRedrive,
    DlqDepth,
    /// `leadpipe listen`'s routes (see [`crate::listen`]).
    ListenerCreate,
    ListenerDelete,
    ListenerPoll,
    ListenerResult,
    /// `POST /v1/maintenance/backfill`: the one-off upgrade step.
    MaintenanceBackfill,
    WorkspacesCreate,
    WorkspacesList,
    WorkspaceGet,
    WorkspaceUpdate,
    WorkspaceDelete,
    /// `GET /v1/workspace`: the workspace the caller acts in.
    WorkspaceCurrent,
    TokensCreate,
    TokensList,
    TokenRevoke,
    AuditList,
    MetaPagesList,
    MetaPagePut,
    MetaPageDelete,
    /// A page or form of the console (`/console`, see [`crate::console`]).
    Console(Page),
    OpenApi,
}

/// A console page or form (one per route; see [`crate::console`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Home,
    SignInForm,
    SignIn,
    SignOut,
    Asset,
    Keys,
    KeyCreate,
    Key,
    KeyEdit,
    KeyReveal,
    KeyRotate,
    KeyTestLead,
    KeyDelete,
    Destinations,
    DestinationCreate,
    Destination,
    DestinationEdit,
    DestinationTest,
    DestinationRotate,
    DestinationToggle,
    DestinationDelete,
    Leads,
    LeadsExport,
    Lead,
    LeadEdit,
    Events,
    EventReplay,
    Deliveries,
    Delivery,
    DeliveryRetry,
    DlqRedrive,
    LeadErase,
    Workspaces,
    WorkspaceCreate,
    WorkspaceSwitch,
    TokenCreate,
    TokenRevoke,
    Audit,
    /// One event: its submission (secrets masked) and provider metadata.
    Event,
    /// `/favicon.ico` (an SVG icon), without a session.
    Favicon,
}

/// One route: method and API Gateway path template.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub function: Function,
    pub action: Action,
}

impl Route {
    /// Part of the JSON API (documented in `docs/openapi.json`); the
    /// console's HTML pages are not.
    pub fn is_api(&self) -> bool {
        !matches!(self.action, Action::Console(_))
    }
}

const fn route(
    method: &'static str,
    path: &'static str,
    function: Function,
    action: Action,
) -> Route {
    Route {
        method,
        path,
        function,
        action,
    }
}

/// Every route of the API.
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    route("POST",    "/v1/hooks/{keyId}",           Function::Ingest,     Action::HookPost),
    route("OPTIONS", "/v1/hooks/{keyId}",           Function::Ingest,     Action::HookPreflight),
    route("GET",     "/v1/hooks/{keyId}",           Function::Ingest,     Action::HookPage),
    route("POST",    "/v1/providers/meta/webhook",  Function::Ingest,     Action::MetaNotification),
    route("GET",     "/v1/providers/meta/webhook",  Function::MetaVerify, Action::MetaHandshake),
    route("POST",    "/v1/meta/data-deletion",      Function::Ingest,     Action::MetaDataDeletion),
    route("GET",     "/v1/meta/data-deletion/{code}", Function::Ingest,   Action::MetaDataDeletionStatus),
    route("GET",     "/healthz",                    Function::Admin,      Action::Health),
    route("POST",    "/v1/keys",                    Function::Admin,      Action::KeysCreate),
    route("GET",     "/v1/keys",                    Function::Admin,      Action::KeysList),
    route("GET",     "/v1/keys/{id}",               Function::Admin,      Action::KeyGet),
    route("PATCH",   "/v1/keys/{id}",               Function::Admin,      Action::KeyUpdate),
    route("DELETE",  "/v1/keys/{id}",               Function::Admin,      Action::KeyDelete),
    route("POST",    "/v1/keys/{id}/rotate",        Function::Admin,      Action::KeyRotate),
    route("POST",    "/v1/keys/{id}/test-lead",     Function::Admin,      Action::KeyTestLead),
    route("GET",     "/v1/events",                  Function::Admin,      Action::EventsList),
    route("GET",     "/v1/events/{eventId}",        Function::Admin,      Action::EventGet),
    route("POST",    "/v1/events/{eventId}/replay", Function::Admin,      Action::EventReplay),
    route("GET",     "/v1/leads",                   Function::Admin,      Action::LeadsList),
    route("GET",     "/v1/leads/export",            Function::Admin,      Action::LeadsExport),
    route("GET",     "/v1/leads/{id}",              Function::Admin,      Action::LeadGet),
    route("PATCH",   "/v1/leads/{id}",              Function::Admin,      Action::LeadUpdate),
    route("POST",    "/v1/subscriptions",           Function::Admin,      Action::SubscriptionsCreate),
    route("GET",     "/v1/subscriptions",           Function::Admin,      Action::SubscriptionsList),
    route("GET",     "/v1/subscriptions/{id}",      Function::Admin,      Action::SubscriptionGet),
    route("PATCH",   "/v1/subscriptions/{id}",      Function::Admin,      Action::SubscriptionUpdate),
    route("DELETE",  "/v1/subscriptions/{id}",      Function::Admin,      Action::SubscriptionDelete),
    route("POST",    "/v1/subscriptions/{id}/rotate-secret", Function::Admin, Action::SubscriptionRotateSecret),
    route("POST",    "/v1/subscriptions/{id}/test", Function::Admin,      Action::SubscriptionTest),
    route("GET",     "/v1/deliveries",              Function::Admin,      Action::DeliveriesList),
    route("GET",     "/v1/deliveries/{id}",         Function::Admin,      Action::DeliveryGet),
    route("POST",    "/v1/deliveries/{id}/retry",   Function::Admin,      Action::DeliveryRetry),
    route("GET",     "/v1/dlq",                     Function::Admin,      Action::DlqDepth),
    route("POST",    "/v1/dlq/redrive",             Function::Admin,      Action::DlqRedrive),
    route("POST",    "/v1/listeners",               Function::Admin,      Action::ListenerCreate),
    route("DELETE",  "/v1/listeners/{id}",          Function::Admin,      Action::ListenerDelete),
    route("GET",     "/v1/listeners/{id}/deliveries", Function::Admin,    Action::ListenerPoll),
    route("POST",    "/v1/listeners/{id}/ack",      Function::Admin,      Action::ListenerResult),
    route("POST",    "/v1/maintenance/backfill",    Function::Admin,      Action::MaintenanceBackfill),
    route("POST",    "/v1/leads/{id}/erase",        Function::Admin,      Action::LeadErase),
    route("POST",    "/v1/workspaces",              Function::Admin,      Action::WorkspacesCreate),
    route("GET",     "/v1/workspaces",              Function::Admin,      Action::WorkspacesList),
    route("GET",     "/v1/workspaces/{id}",         Function::Admin,      Action::WorkspaceGet),
    route("PATCH",   "/v1/workspaces/{id}",         Function::Admin,      Action::WorkspaceUpdate),
    route("DELETE",  "/v1/workspaces/{id}",         Function::Admin,      Action::WorkspaceDelete),
    route("GET",     "/v1/workspace",               Function::Admin,      Action::WorkspaceCurrent),
    route("POST",    "/v1/workspaces/{id}/tokens",  Function::Admin,      Action::TokensCreate),
    route("GET",     "/v1/workspaces/{id}/tokens",  Function::Admin,      Action::TokensList),
    route("DELETE",  "/v1/workspaces/{id}/tokens/{tokenId}", Function::Admin, Action::TokenRevoke),
    route("GET",     "/v1/audit",                   Function::Admin,      Action::AuditList),
    route("GET",     "/v1/meta/pages",              Function::Admin,      Action::MetaPagesList),
    route("PUT",     "/v1/meta/pages/{pageId}",     Function::Admin,      Action::MetaPagePut),
    route("DELETE",  "/v1/meta/pages/{pageId}",     Function::Admin,      Action::MetaPageDelete),
    route("GET",     "/console",                    Function::Admin,      Action::Console(Page::Home)),
    route("GET",     "/console/sign-in",            Function::Admin,      Action::Console(Page::SignInForm)),
    route("POST",    "/console/sign-in",            Function::Admin,      Action::Console(Page::SignIn)),
    route("POST",    "/console/sign-out",           Function::Admin,      Action::Console(Page::SignOut)),
    route("GET",     "/console/assets/{file}",      Function::Admin,      Action::Console(Page::Asset)),
    route("GET",     "/console/keys",               Function::Admin,      Action::Console(Page::Keys)),
    route("POST",    "/console/keys",               Function::Admin,      Action::Console(Page::KeyCreate)),
    route("GET",     "/console/keys/{id}",          Function::Admin,      Action::Console(Page::Key)),
    route("POST",    "/console/keys/{id}",          Function::Admin,      Action::Console(Page::KeyEdit)),
    route("POST",    "/console/keys/{id}/reveal",   Function::Admin,      Action::Console(Page::KeyReveal)),
    route("POST",    "/console/keys/{id}/rotate",   Function::Admin,      Action::Console(Page::KeyRotate)),
    route("POST",    "/console/keys/{id}/test-lead", Function::Admin,     Action::Console(Page::KeyTestLead)),
    route("POST",    "/console/keys/{id}/delete",   Function::Admin,      Action::Console(Page::KeyDelete)),
    route("GET",     "/console/destinations",       Function::Admin,      Action::Console(Page::Destinations)),
    route("POST",    "/console/destinations",       Function::Admin,      Action::Console(Page::DestinationCreate)),
    route("GET",     "/console/destinations/{id}",  Function::Admin,      Action::Console(Page::Destination)),
    route("POST",    "/console/destinations/{id}",  Function::Admin,      Action::Console(Page::DestinationEdit)),
    route("POST",    "/console/destinations/{id}/test",   Function::Admin, Action::Console(Page::DestinationTest)),
    route("POST",    "/console/destinations/{id}/rotate", Function::Admin, Action::Console(Page::DestinationRotate)),
    route("POST",    "/console/destinations/{id}/toggle", Function::Admin, Action::Console(Page::DestinationToggle)),
    route("POST",    "/console/destinations/{id}/delete", Function::Admin, Action::Console(Page::DestinationDelete)),
    route("GET",     "/console/leads",              Function::Admin,      Action::Console(Page::Leads)),
    route("GET",     "/console/leads/export.csv",   Function::Admin,      Action::Console(Page::LeadsExport)),
    route("GET",     "/console/leads/{id}",         Function::Admin,      Action::Console(Page::Lead)),
    route("POST",    "/console/leads/{id}",         Function::Admin,      Action::Console(Page::LeadEdit)),
    route("GET",     "/console/events",             Function::Admin,      Action::Console(Page::Events)),
    route("GET",     "/console/events/{id}",        Function::Admin,      Action::Console(Page::Event)),
    route("POST",    "/console/events/{id}/replay", Function::Admin,      Action::Console(Page::EventReplay)),
    route("GET",     "/console/deliveries",         Function::Admin,      Action::Console(Page::Deliveries)),
    route("GET",     "/console/deliveries/{id}",    Function::Admin,      Action::Console(Page::Delivery)),
    route("POST",    "/console/deliveries/{id}/retry", Function::Admin,   Action::Console(Page::DeliveryRetry)),
    route("POST",    "/console/dlq/redrive",        Function::Admin,      Action::Console(Page::DlqRedrive)),
    route("POST",    "/console/leads/{id}/erase",   Function::Admin,      Action::Console(Page::LeadErase)),
    route("GET",     "/console/workspaces",         Function::Admin,      Action::Console(Page::Workspaces)),
    route("POST",    "/console/workspaces",         Function::Admin,      Action::Console(Page::WorkspaceCreate)),
    route("POST",    "/console/workspaces/{id}/switch", Function::Admin,  Action::Console(Page::WorkspaceSwitch)),
    route("POST",    "/console/tokens",             Function::Admin,      Action::Console(Page::TokenCreate)),
    route("POST",    "/console/tokens/{id}/revoke", Function::Admin,      Action::Console(Page::TokenRevoke)),
    route("GET",     "/console/audit",              Function::Admin,      Action::Console(Page::Audit)),
    route("GET",     "/favicon.ico",                Function::Admin,      Action::Console(Page::Favicon)),
    route("GET",     "/v1/openapi.json",            Function::Admin,      Action::OpenApi),
];

/// A request matched to its route, with the path parameters.
#[derive(Debug, Clone)]
pub struct Matched {
    pub route: &'static Route,
    params: Vec<(&'static str, String)>,
}

impl Matched {
    /// A path parameter by its template name (`keyId`).
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

fn match_path(template: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let mut params = Vec::new();
    let mut want = template.trim_matches('/').split('/');
    let mut have = path
        .trim_end_matches('/')
        .trim_start_matches('/')
        .split('/');
    loop {
        match (want.next(), have.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(h)) => {
                if let Some(name) = w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    if h.is_empty() {
                        return None;
                    }
                    params.push((name, h.to_owned()));
                } else if w != h {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// Finds the route for `method` and `path` among the routes `function`
/// serves (`None`: all of them, as the local stack does). A known path with
/// another method is 405 with `Allow`; an unknown path is 404.
pub fn resolve(method: &str, path: &str, function: Option<Function>) -> Result<Matched, ApiError> {
    let mut allowed: Vec<&str> = Vec::new();
    for route in ROUTES {
        if function.is_some_and(|f| f != route.function) {
            continue;
        }
        if let Some(params) = match_path(route.path, path) {
            if route.method.eq_ignore_ascii_case(method) {
                return Ok(Matched { route, params });
            }
            allowed.push(route.method);
        }
    }
    if allowed.is_empty() {
        Err(ApiError::NotFound("route"))
    } else {
        Err(ApiError::MethodNotAllowed {
            allow: allowed.join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_templates() {
        let m = resolve("POST", "/v1/hooks/key_abc", None).unwrap();
        assert_eq!(m.route.action, Action::HookPost);
        assert_eq!(m.param("keyId"), "key_abc");
        let m = resolve("post", "/v1/keys/key_1/rotate", None).unwrap();
        assert_eq!(m.route.action, Action::KeyRotate);
        assert_eq!(m.param("id"), "key_1");
        assert_eq!(
            resolve("GET", "/v1/keys/", None).unwrap().route.action,
            Action::KeysList
        );
    }

    #[test]
    fn unknown_and_wrong_method() {
        assert_eq!(
            resolve("GET", "/v1/nope", None).unwrap_err().code(),
            "not_found"
        );
        assert_eq!(
            resolve("GET", "/v1/hooks//", None).unwrap_err().code(),
            "not_found"
        );
        match resolve("PUT", "/v1/keys/key_1", None).unwrap_err() {
            ApiError::MethodNotAllowed { allow } => assert_eq!(allow, "GET, PATCH, DELETE"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn function_filter() {
        assert!(resolve("GET", "/v1/keys", Some(Function::Ingest)).is_err());
        assert!(resolve("POST", "/v1/hooks/k", Some(Function::Ingest)).is_ok());
    }

    #[test]
    fn every_route_is_unique() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "{} {}",
                    a.method,
                    a.path
                );
            }
        }
    }
}
