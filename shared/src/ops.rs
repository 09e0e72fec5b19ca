//! Operational events: what an operator must hear about without looking.
//!
//! For now each event is one error-level log line (the alarms' log metric
//! filters can count them). The operational event delivery being built on
//! `main` will be wired into these functions on merge: callers raise an
//! event here, through one function per kind, and never learn how it
//! travels.

use crate::app::Scope;

/// `source.failing`: a Meta page of `scope`'s workspace can no longer bring
/// leads (its page token refused by Graph, or the app no longer in its
/// `subscribed_apps`). Raised once when the page turns failing, by the
/// sweep's page health check ([`crate::sweep`]). Until the operational
/// event delivery on `main` is wired in here (on merge), this only logs at
/// error level with the workspace, the page id and the reason; the reason
/// never holds a token.
pub fn source_failing(scope: &Scope, page_id: &str, reason: &str) {
    tracing::error!(
        event = "source.failing",
        workspace = %scope.ws(),
        page_id,
        reason,
        "a Meta page can no longer bring leads"
    );
}
