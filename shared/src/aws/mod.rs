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

use aws_config::{BehaviorVersion, SdkConfig};
use tokio::sync::OnceCell;

/// The SDK configuration from the environment (credentials, region and
/// `AWS_ENDPOINT_URL`, which points every client at an emulator).
pub async fn sdk_config_from_env() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::v2026_01_12())
        .load()
        .await
}

/// The SDK configuration: loaded from the environment on first use, or
/// given (tests and the local stack build one for their emulator).
#[derive(Clone)]
pub struct Sdk(Arc<OnceCell<SdkConfig>>);

impl Sdk {
    pub fn from_env() -> Self {
        Sdk(Arc::new(OnceCell::new()))
    }

    pub fn given(config: SdkConfig) -> Self {
        Sdk(Arc::new(OnceCell::new_with(Some(config))))
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
