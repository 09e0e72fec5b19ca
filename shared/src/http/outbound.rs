//! Leadpipe's outbound HTTP: the two clients (webhook sends, the Graph API)
//! and how an outbound failure becomes text.
//!
//! * Both clients ignore `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and their
//!   lower-case forms (`.no_proxy()`): a proxy resolves the target itself,
//!   so a send through one would skip the SSRF guard's resolver
//!   ([`GuardedResolver`]) and reach whatever the name points to.
//! * Building a client can fail (the TLS set-up); that failure is returned,
//!   never replaced by a default client (which would have no guard, no
//!   timeout and would follow redirects). [`crate::App`] builds each beside
//!   a container's first event (its warm-up; not in `main`, where reading
//!   the trust store cost init milliseconds): a failed build is logged, and
//!   every send then fails with it until one succeeds.
//! * An outbound error's text never carries the URL: webhook URLs hold
//!   secrets in their query (`?token=` for Slack, Zapier and friends) and
//!   the Graph API's holds the page token. Use [`error_text`] for every
//!   `reqwest::Error` that goes into a record or a log line, and
//!   [`origin`] when a target must be named.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::error::{Error, chain};
use crate::http::resolver::{Dns, GuardedResolver};

/// The `User-Agent` of every outbound request.
const USER_AGENT: &str = concat!("leadpipe/", env!("CARGO_PKG_VERSION"));

/// A whole request, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What both clients share: timeouts, no redirects (a redirect could point
/// anywhere, after the checks), no proxy from the environment.
fn base() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
}

fn build(what: &str, builder: reqwest::ClientBuilder) -> Result<reqwest::Client, Error> {
    builder.build().map_err(|e| {
        Error::Config(format!(
            "cannot build the {what} HTTP client: {}",
            error_text(e)
        ))
    })
}

/// The client for outbound webhooks: every name resolves through the SSRF
/// guard, so no send reaches a private address whatever the name resolves
/// to (all addresses when `allow_private`, for local use).
pub fn webhook_client(dns: Dns, allow_private: bool) -> Result<reqwest::Client, Error> {
    let resolver = GuardedResolver { dns, allow_private };
    build(
        "webhook",
        base()
            .pool_idle_timeout(Duration::from_secs(60))
            .dns_resolver(Arc::new(resolver)),
    )
}

/// The client for the Graph API (a fixed, configured host).
pub fn graph_client() -> Result<reqwest::Client, Error> {
    build("Graph API", base())
}

/// An outbound error as text, without the URL it was for (see the module
/// documentation): the error and its causes.
pub fn error_text(err: reqwest::Error) -> String {
    chain(&err.without_url())
}

/// What may be said of a target URL in logs: scheme, host and port; never
/// the path or the query, where secrets live.
pub fn origin(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
        (Some(host), None) => format!("{}://{host}", url.scheme()),
        (None, _) => format!("{}:", url.scheme()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback port nothing listens on (bound, then released).
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn error_text_leaves_the_url_out() {
        let client = webhook_client(Dns::default(), true).unwrap();
        let url = format!(
            "http://127.0.0.1:{}/hook/SECRETPATH?token=SECRET123",
            closed_port()
        );
        let err = client.post(&url).send().await.unwrap_err();
        assert!(
            chain(&err).contains("SECRET123"),
            "reqwest's own text carries the URL: {}",
            chain(&err)
        );
        let text = error_text(err);
        assert!(!text.contains("SECRET"), "{text}");
        assert!(!text.contains("/hook"), "{text}");
        assert!(!text.is_empty());
    }

    #[test]
    fn origin_is_scheme_host_and_port_only() {
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            origin(&url(
                "https://hooks.slack.com/services/T0/B0/XXXX?token=SECRET"
            )),
            "https://hooks.slack.com"
        );
        assert_eq!(
            origin(&url("http://user:pw@127.0.0.1:8080/a?b=c#d")),
            "http://127.0.0.1:8080"
        );
        assert_eq!(origin(&url("https://[::1]:8443/x")), "https://[::1]:8443");
    }

    /// Set by [`proxy_variables_are_ignored`] in the child process it starts.
    const CHILD_MARKER: &str = "LEADPIPE_TEST_PROXY_CHILD";
    const PROXY_VARS: [&str; 6] = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ];

    /// The proxy variables are process-global, and other tests build
    /// clients concurrently: so the clients are built and used in a child
    /// process (this test binary again, running only
    /// [`sends_with_proxy_variables_set`]) started with every proxy variable
    /// pointing at a listener here, which must see no connection.
    #[test]
    fn proxy_variables_are_ignored() {
        if std::env::var_os(CHILD_MARKER).is_some() {
            return;
        }
        let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        proxy.set_nonblocking(true).unwrap();
        let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child
            .args([
                "http::outbound::tests::sends_with_proxy_variables_set",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_MARKER, "1")
            .env_remove("NO_PROXY")
            .env_remove("no_proxy");
        for var in PROXY_VARS {
            child.env(var, &proxy_url);
        }
        let out = child.output().unwrap();
        match proxy.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Ok((_, from)) => panic!("a client connected to the proxy (from {from})"),
            Err(e) => panic!("accept: {e}"),
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "the child failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("1 passed"),
            "the child ran no test: {stdout}"
        );
    }

    /// Runs in the child process of [`proxy_variables_are_ignored`] (and
    /// does nothing otherwise): each client sends while the proxy variables
    /// are set; a guarded-forbidden name must fail at the guard.
    #[tokio::test]
    async fn sends_with_proxy_variables_set() {
        if std::env::var_os(CHILD_MARKER).is_none() {
            return;
        }
        for var in PROXY_VARS {
            assert!(std::env::var_os(var).is_some(), "{var} is not set");
        }
        let dns = Dns::with_overrides(std::collections::HashMap::from([(
            "rebind.example.test".to_owned(),
            vec!["127.0.0.1".parse().unwrap()],
        )]));
        let guarded = webhook_client(dns, false).unwrap();
        let port = closed_port();
        for url in [
            format!("http://rebind.example.test:{port}/hook"),
            format!("https://rebind.example.test:{port}/hook"),
        ] {
            let err = guarded.post(&url).send().await.unwrap_err();
            let text = error_text(err);
            assert!(text.contains("not publicly routable"), "{url}: {text}");
        }
        let open = webhook_client(Dns::default(), true).unwrap();
        let graph = graph_client().unwrap();
        for client in [&open, &graph] {
            for url in [
                format!("http://127.0.0.1:{port}/hook"),
                format!("http://localhost:{port}/hook"),
            ] {
                assert!(client.get(&url).send().await.is_err(), "{url}");
            }
        }
    }
}
