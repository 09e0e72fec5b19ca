//! The AWS SDK, set up on first use rather than in `main`.
//!
//! Loading the SDK configuration (credential and region chains, the TLS
//! trust store) and building clients is most of what a cold start would
//! do in `main` (BENCHMARKS.md, "Where a cold start goes", measured by
//! `bench/src/bin/init-phases.rs`), while a function's first `GET /next`
//! is what Lambda reports as its init. So `main` only reads the environment;
//! the first call to AWS loads the configuration once (concurrent callers
//! wait for the same load) and builds that service's client, which is then
//! kept for the container's life. `meta-verify`'s handshake and the admin
//! API's unauthenticated answers never pay for clients they do not use.

pub mod batch;
pub mod listing;
pub mod merge;
pub mod pagination;
pub mod permissions;
pub mod queue;
pub mod resources;
pub mod secrets;
pub mod store;
pub mod table;

use std::fmt;
use std::sync::Arc;

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use tokio::sync::OnceCell;

/// Connecting to an AWS endpoint takes at most this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One try of a call (the SDK tries a timed-out one again).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// A call with all its tries: a hung connection fails the call, and the
/// function answers (or its message comes back) well inside its timeout,
/// instead of hanging until Lambda kills it.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// `config` with Leadpipe's bounds on every call (see [`OPERATION_TIMEOUT`]).
pub fn with_timeouts(config: SdkConfig) -> SdkConfig {
    config
        .into_builder()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .build()
}

/// The SDK configuration from the environment (credentials, region and
/// `AWS_ENDPOINT_URL`, which points every client at an emulator), with
/// Leadpipe's timeouts.
pub async fn sdk_config_from_env() -> SdkConfig {
    with_timeouts(
        aws_config::defaults(BehaviorVersion::v2026_01_12())
            .load()
            .await,
    )
}

/// The SDK configuration: loaded from the environment on first use, or
/// given (tests and the local stack build one for their emulator).
#[derive(Clone)]
pub struct Sdk(Arc<OnceCell<SdkConfig>>);

impl Sdk {
    pub fn from_env() -> Self {
        Sdk(Arc::new(OnceCell::new()))
    }

    /// A given configuration, with Leadpipe's timeouts.
    pub fn given(config: SdkConfig) -> Self {
        Sdk(Arc::new(OnceCell::new_with(Some(with_timeouts(config)))))
    }

    pub async fn config(&self) -> &SdkConfig {
        // The loading future is large and runs once: boxed, so that it does
        // not grow every future that awaits a client.
        self.0.get_or_init(|| Box::pin(sdk_config_from_env())).await
    }
}

/// One service's client, built from [`Sdk`] the first time it is used.
pub struct LazyClient<C> {
    sdk: Sdk,
    client: Arc<OnceCell<C>>,
    build: fn(&SdkConfig) -> C,
}

impl<C> LazyClient<C> {
    pub fn new(sdk: Sdk, build: fn(&SdkConfig) -> C) -> Self {
        LazyClient {
            sdk,
            client: Arc::new(OnceCell::new()),
            build,
        }
    }

    pub async fn get(&self) -> &C {
        self.client
            .get_or_init(|| Box::pin(async { (self.build)(self.sdk.config().await) }))
            .await
    }
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        LazyClient {
            sdk: self.sdk.clone(),
            client: self.client.clone(),
            build: self.build,
        }
    }
}

impl<C> fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyClient")
            .field("built", &self.client.initialized())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static BUILDS: AtomicUsize = AtomicUsize::new(0);

    fn count(_: &SdkConfig) -> usize {
        BUILDS.fetch_add(1, Ordering::SeqCst) + 1
    }

    #[tokio::test]
    async fn every_call_is_bounded_in_time() {
        let sdk = Sdk::given(SdkConfig::builder().build());
        let timeouts = sdk.config().await.timeout_config().expect("timeouts");
        assert_eq!(timeouts.connect_timeout(), Some(CONNECT_TIMEOUT));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(timeouts.operation_timeout(), Some(OPERATION_TIMEOUT));
        assert!(ATTEMPT_TIMEOUT < OPERATION_TIMEOUT);
    }

    #[tokio::test]
    async fn a_client_is_built_once_on_first_use() {
        let sdk = Sdk::given(SdkConfig::builder().build());
        let client = LazyClient::new(sdk, count);
        assert_eq!(BUILDS.load(Ordering::SeqCst), 0, "built before use");
        let copy = client.clone();
        let (a, b) = tokio::join!(client.get(), copy.get());
        assert_eq!((*a, *b), (1, 1));
        assert_eq!(*client.get().await, 1);
        assert_eq!(BUILDS.load(Ordering::SeqCst), 1);
    }
}
#[cfg(test)]
mod sizes {
    use crate::App;

    /// A handler's future lives on the runtime's stack while it is polled;
    /// the SDK's are large (more so in debug builds), and a lazily built
    /// client must not add its loading future to every call. A guard
    /// against the stack overflow this once caused in the test suite.
    #[test]
    fn handler_futures_stay_small() {
        const LIMIT: usize = 16 * 1024;
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let required = crate::config::vars::REQUIRED;
        let config =
            crate::Config::from_lookup(|k| required.contains(&k).then(|| "x".into())).unwrap();
        let app = App::new(config, &aws_config::SdkConfig::builder().build());
        let sizes = [
            (
                "admin",
                size_of_val(&crate::admin::handle(&app, Default::default())),
            ),
            (
                "ingest",
                size_of_val(&crate::ingest::handle(&app, Default::default())),
            ),
            (
                "process",
                size_of_val(&crate::process::process_event(&app.default_scope(), "e", 1)),
            ),
            (
                "deliver",
                size_of_val(&crate::deliver::attempt_delivery(&app.default_scope(), "d")),
            ),
            ("redrive", size_of_val(&crate::admin::dlq::redrive(&app))),
            (
                "store",
                size_of_val(&app.store.get::<serde_json::Value>("p", "s")),
            ),
        ];
        for (name, size) in sizes {
            assert!(size < LIMIT, "{name}'s future is {size} bytes");
        }
    }
}
