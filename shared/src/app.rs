//! Everything a handler needs, built once per cold start and shared by every
//! invocation of a warm container.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};

use crate::config::Config;
use crate::errors::Error;
use crate::queue::Queue;
use crate::secrets::SecretStore;
use crate::ssrf::{Dns, GuardedResolver};
use crate::store::Store;

/// Configuration and clients. Cheap to clone.
#[derive(Clone)]
pub struct App(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: Store,
    pub queue: Queue,
    pub secrets: SecretStore,
    http: OnceLock<reqwest::Client>,
    webhooks: OnceLock<reqwest::Client>,
    dns: Dns,
}

impl std::ops::Deref for App {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// The SDK configuration from the environment (credentials, region and
/// `AWS_ENDPOINT_URL`, which points every client at an emulator).
pub async fn sdk_config_from_env() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::v2026_01_12())
        .load()
        .await
}

impl App {
    /// Configuration from the environment; clients from the SDK's default
    /// chain. Called once in each function's `main`.
    pub async fn from_env() -> Result<Self, Error> {
        let config = Config::from_env()?;
        let sdk = sdk_config_from_env().await;
        Ok(Self::new(config, &sdk))
    }

    pub fn new(config: Config, sdk: &SdkConfig) -> Self {
        Self::with_dns(config, sdk, Dns::default())
    }

    /// Like [`App::new`], with fixed DNS answers for chosen names (tests
    /// point a public-looking name at loopback to exercise the SSRF guard).
    pub fn with_dns(config: Config, sdk: &SdkConfig, dns: Dns) -> Self {
        let store = Store::new(aws_sdk_dynamodb::Client::new(sdk), config.table.clone());
        let queue = Queue::new(aws_sdk_sqs::Client::new(sdk));
        let secrets = SecretStore::new(
            aws_sdk_secretsmanager::Client::new(sdk),
            config.secret_id.clone(),
            config.secret_ttl,
        );
        App(Arc::new(Inner {
            config,
            store,
            queue,
            secrets,
            http: OnceLock::new(),
            webhooks: OnceLock::new(),
            dns,
        }))
    }

    pub fn dns(&self) -> &Dns {
        &self.dns
    }

    /// The HTTP client for outbound webhooks: 10 s timeout, no redirects,
    /// and name resolution through the SSRF guard, so no send can reach a
    /// private address whatever the name resolves to. Built on first use and
    /// kept for the container's life (connections are reused).
    pub fn webhook_client(&self) -> &reqwest::Client {
        self.webhooks.get_or_init(|| {
            let resolver = GuardedResolver {
                dns: self.dns.clone(),
                allow_private: self.config.allow_private_targets,
            };
            reqwest::Client::builder()
                .user_agent(concat!("leadpipe/", env!("CARGO_PKG_VERSION")))
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .pool_idle_timeout(Duration::from_secs(60))
                .dns_resolver(Arc::new(resolver))
                .build()
                .unwrap_or_else(|_| reqwest::Client::new())
        })
    }

    /// The HTTP client for the Graph API, built on first use (functions that
    /// never call out never pay for it) and reused across invocations.
    pub fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .user_agent(concat!("leadpipe/", env!("CARGO_PKG_VERSION")))
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_else(|_| reqwest::Client::new())
        })
    }
}
