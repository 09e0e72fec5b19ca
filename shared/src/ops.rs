//! Operational events: what an operator must hear about without looking.
//!
//! For now each event is one error-level log line (the alarms' log metric
//! filters can count them). The operational event delivery being built on
//! `main` will be wired into these functions on merge: callers raise an
//! event here, through one function per kind, and never learn how it
//! travels.

use crate::app::Scope;
use crate::rules::ids::WorkspaceId;

/// `source.failing`: a Meta page of `scope`'s workspace can no longer bring
/// leads (its page token refused by Graph, or the app no longer in its
/// `subscribed_apps`). Raised once when the page turns failing, by the
/// sweep's page health check ([`crate::sweep`]). Until the operational
/// event delivery on `main` is wired in here (on merge), this only logs at
/// error level with the workspace, the page id and the reason; the reason
/// never holds a token.
pub fn source_failing(scope: &Scope, page_id: &str, reason: &str) {
    log_source_failing(scope.ws(), page_id, reason);
}

fn log_source_failing(ws: &WorkspaceId, page_id: &str, reason: &str) {
    tracing::error!(
        event = "source.failing",
        workspace = %ws,
        page_id,
        reason,
        "a Meta page can no longer bring leads"
    );
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn source_failing_is_one_error_line_with_the_page_and_the_reason() {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            super::log_source_failing(
                &crate::rules::ids::WorkspaceId::default(),
                "112233",
                "the page access token is invalid, expired or revoked (Graph error 190)",
            );
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["level"], "ERROR");
        assert_eq!(line["fields"]["event"], "source.failing");
        assert_eq!(line["fields"]["page_id"], "112233");
        assert!(line["fields"]["reason"].as_str().unwrap().contains("190"));
    }
}
