//! Everything a handler needs, shared by every invocation of a container:
//! configuration read once per cold start, AWS and HTTP clients built on
//! first use, and the warm-up a container's first event starts.
//!
//! The outbound HTTP clients are built by a fallible call, never replaced by
//! a default client (see [`crate::http::outbound`]); a function that sends
//! builds its client in `main`, so a failure stops it at cold start instead
//! of surfacing on a request. Functions that never call out never pay for
//! one (building a client reads the system's CA certificates).

use std::sync::{Arc, OnceLock};

use aws_config::SdkConfig;
use serde_json::Value;

use crate::aws::queue::Queue;
use crate::aws::secrets::{AdminSecret, SecretStore, Secrets};
use crate::aws::store::Store;
use crate::aws::{LazyClient, Sdk};
use crate::config::{Config, vars};
use crate::error::Error;
use crate::http::outbound;
use crate::http::resolver::Dns;
use crate::rules::ids::WorkspaceId;

/// Work a function's first request would otherwise do in turn, started in
/// the background when that request arrives (see [`App::warm_up`]), so that
/// it overlaps the request's own waits: libphonenumber's metadata (CPU)
/// loads while `ingest` waits for its key and secret; the DynamoDB
/// connection opens while `admin` fetches its secret; the secret arrives
/// while `deliver` reads its delivery. Not started in `main`: Lambda counts
/// init up to the runtime's first `GET /next`, and work running beside it
/// delays that request (measured in BENCHMARKS.md).
#[derive(Clone, Copy, Debug)]
pub struct WarmUp {
    /// Fetch the deployment secret (data key, Meta secrets).
    pub secret: bool,
    /// Build the DynamoDB client and open its first connection with a read
    /// of an absent item (one read unit per cold start).
    pub table: bool,
    /// Load libphonenumber's metadata, on a blocking thread.
    pub phones: bool,
    /// Build the Graph API client (TLS trust store), on a blocking thread.
    pub graph: bool,
    /// Build the webhook client (TLS trust store), on a blocking thread.
    pub webhooks: bool,
}

impl WarmUp {
    pub const NONE: WarmUp = WarmUp {
        secret: false,
        table: false,
        phones: false,
        graph: false,
        webhooks: false,
    };
}

/// The key the table warm-up reads; no item is ever written there.
const WARM_UP_KEY: &str = "WARMUP";

/// Configuration and clients. Cheap to clone.
#[derive(Clone)]
pub struct App(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: Store,
    pub queue: Queue,
    /// The deployment secret: data key and Meta secrets.
    pub secrets: SecretStore<Secrets>,
    /// The admin secret: only `admin` is given its id (and may read it).
    pub admin_secret: SecretStore<AdminSecret>,
    http: OnceLock<reqwest::Client>,
    webhooks: OnceLock<reqwest::Client>,
    warmed: OnceLock<()>,
    dns: Dns,
}

impl std::ops::Deref for App {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl App {
    /// Configuration from the environment; AWS clients from the SDK's
    /// default chain, built on first use (see [`crate::aws`]). Called once
    /// in each function's `main`: it reads the environment and nothing else.
    pub fn from_env() -> Result<Self, Error> {
        Ok(Self::build(
            Config::from_env()?,
            Sdk::from_env(),
            Dns::default(),
        ))
    }

    /// With a given SDK configuration (tests, the local stack, the bench).
    pub fn new(config: Config, sdk: &SdkConfig) -> Self {
        Self::with_dns(config, sdk, Dns::default())
    }

    /// Like [`App::new`], with fixed DNS answers for chosen names (tests
    /// point a public-looking name at loopback to exercise the SSRF guard).
    pub fn with_dns(config: Config, sdk: &SdkConfig, dns: Dns) -> Self {
        Self::build(config, Sdk::given(sdk.clone()), dns)
    }

    fn build(config: Config, sdk: Sdk, dns: Dns) -> Self {
        let store = Store::new(
            LazyClient::new(sdk.clone(), aws_sdk_dynamodb::Client::new),
            config.table.clone(),
        );
        let queue = Queue::new(LazyClient::new(sdk.clone(), aws_sdk_sqs::Client::new));
        let secrets_client = LazyClient::new(sdk, aws_sdk_secretsmanager::Client::new);
        let secrets = SecretStore::new(
            secrets_client.clone(),
            vars::SECRET_ID,
            Some(config.secret_id.clone()),
            config.secret_ttl,
        );
        let admin_secret = SecretStore::new(
            secrets_client,
            vars::ADMIN_SECRET_ID,
            config.admin_secret_id.clone(),
            config.secret_ttl,
        );
        App(Arc::new(Inner {
            config,
            store,
            queue,
            secrets,
            admin_secret,
            http: OnceLock::new(),
            webhooks: OnceLock::new(),
            warmed: OnceLock::new(),
            dns,
        }))
    }

    /// Starts `what` in the background and returns at once; only the first
    /// call of a container does anything (handlers call it on every event).
    /// A failure is logged and left to the request, which retries it.
    pub fn warm_up(&self, what: WarmUp) {
        if self.warmed.set(()).is_err() {
            return;
        }
        if what.phones {
            tokio::task::spawn_blocking(crate::rules::inbound::normalise::load_metadata);
        }
        // A client that cannot be built is never replaced by a default one:
        // the first send builds again and fails with the reason.
        if what.graph || what.webhooks {
            let app = self.clone();
            tokio::task::spawn_blocking(move || {
                let built = [
                    what.graph.then(|| app.http().map(|_| ())),
                    what.webhooks.then(|| app.webhook_client().map(|_| ())),
                ];
                for e in built.into_iter().flatten().filter_map(Result::err) {
                    tracing::error!(error = %e, "warm-up: an outbound HTTP client cannot be built; nothing can be sent");
                }
            });
        }
        if what.secret {
            let app = self.clone();
            tokio::spawn(async move {
                if let Err(e) = app.secrets.get().await {
                    tracing::warn!(error = %e, "warm-up: secret fetch failed; the first request retries");
                }
            });
        }
        if what.table {
            let app = self.clone();
            tokio::spawn(async move {
                if let Err(e) = app.store.get::<Value>(WARM_UP_KEY, WARM_UP_KEY).await {
                    tracing::warn!(error = %e, "warm-up: table read failed; the first request retries");
                }
            });
        }
    }

    pub fn dns(&self) -> &Dns {
        &self.dns
    }

    /// The HTTP client for outbound webhooks: timeouts, no redirects, no
    /// proxy, and name resolution through the SSRF guard, so no send can
    /// reach a private address whatever the name resolves to. Built on first
    /// use (the warm-up beside a container's first event, not `main`: its
    /// trust store costs init milliseconds) and kept for the container's
    /// life (connections are reused).
    pub fn webhook_client(&self) -> Result<&reqwest::Client, Error> {
        built(&self.webhooks, || {
            outbound::webhook_client(self.dns.clone(), self.config.allow_private_targets)
        })
    }

    /// The HTTP client for the Graph API, built on first use (`process`'s
    /// warm-up) and reused across invocations.
    pub fn http(&self) -> Result<&reqwest::Client, Error> {
        built(&self.http, outbound::graph_client)
    }
}

/// The app acting inside one workspace: what every model function over a
/// workspace's items takes, so no item can be read or written without the
/// workspace its key carries (see [`crate::aws::table::scoped`]). Cheap to
/// clone; derefs to the [`App`].
#[derive(Clone)]
pub struct Scope {
    app: App,
    ws: WorkspaceId,
}

impl Scope {
    /// The workspace this scope acts in.
    pub fn ws(&self) -> &WorkspaceId {
        &self.ws
    }

    /// The app, outside any workspace.
    pub fn app(&self) -> &App {
        &self.app
    }
}

impl std::ops::Deref for Scope {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}

impl App {
    /// This app acting inside `ws`.
    pub fn scope(&self, ws: WorkspaceId) -> Scope {
        Scope {
            app: self.clone(),
            ws,
        }
    }

    /// This app acting inside the `default` workspace.
    pub fn default_scope(&self) -> Scope {
        self.scope(WorkspaceId::default_workspace())
    }
}

/// For a function's `main`: logs why it cannot start (the runtime prints
/// only the error's debug form) and hands the error back to return.
pub fn cannot_start(e: Error) -> Error {
    tracing::error!(error = %e, "cannot start");
    e
}

/// The client in `cell`, built by `build` when there is none yet. A failed
/// build leaves the cell empty and is returned as is: no default client.
fn built(
    cell: &OnceLock<reqwest::Client>,
    build: impl FnOnce() -> Result<reqwest::Client, Error>,
) -> Result<&reqwest::Client, Error> {
    if let Some(client) = cell.get() {
        return Ok(client);
    }
    let client = build()?;
    // Two first calls at once may both build; one client is kept.
    Ok(cell.get_or_init(|| client))
}
