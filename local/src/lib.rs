//! The local stack behind `make dev`: the AWS emulator (unless
//! `AWS_ENDPOINT_URL` points elsewhere), the table, queues and secrets
//! created idempotently from [`leadpipe::aws::resources`], and one HTTP server
//! for every route. The integration tests start it the same way.

pub mod bootstrap;
pub mod demo;
pub mod emulator;
pub mod poller;
pub mod server;
pub mod state;

use std::future::Future;

use crate::bootstrap::{self as resources, SecretOverrides, Stack, StackNames};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use leadpipe::App;
use leadpipe::aws::pagination::PageRequest;
use leadpipe::config::{Config, vars};
use leadpipe::model::keys::{self, KeyChanges};
use tokio::net::TcpListener;

pub use emulator::{Emulator, free_port};

/// An SDK configuration for an emulator at `endpoint`. Region and
/// credentials come from the environment when set, else dummies that every
/// emulator accepts.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::v2026_01_12()).endpoint_url(endpoint);
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if env("AWS_REGION").is_none() && env("AWS_DEFAULT_REGION").is_none() {
        loader = loader.region(Region::new("us-east-1"));
    }
    if env("AWS_ACCESS_KEY_ID").is_none() && env("AWS_PROFILE").is_none() {
        loader = loader.credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "leadpipe-local",
        ));
    }
    loader.load().await
}

/// How to start the local stack.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the API listens (`127.0.0.1:3000`).
    pub addr: String,
    /// An emulator or AWS endpoint to use instead of starting moto.
    pub endpoint: Option<String>,
    /// Where to start moto when `endpoint` is `None`.
    pub emulator_port: u16,
    /// Resource name prefix.
    pub stack: String,
    pub secret: SecretOverrides,
    /// Configuration variables (CONTRACT §1, `LEADPIPE_*`) that win over the
    /// process environment: a test points one stack at its own stand-ins
    /// without touching the environment other tests share.
    pub env: Vec<(String, String)>,
    /// Where data is kept between runs when the stack starts its own
    /// emulator (see [`state`]); `None` keeps nothing.
    pub state: Option<state::DevState>,
}

impl Options {
    /// Reads the settings of CONTRACT §1 from the environment.
    pub fn from_env() -> Self {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Options {
            addr: env("LEADPIPE_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into()),
            endpoint: env("AWS_ENDPOINT_URL"),
            // LEADPIPE_EMULATOR_PORT: another port for the emulator `make dev`
            // starts (CI runs beside other stacks); 4566 by default.
            emulator_port: env("LEADPIPE_EMULATOR_PORT")
                .and_then(|p| p.trim().parse().ok())
                .unwrap_or(4566),
            stack: env("LEADPIPE_STACK").unwrap_or_else(|| "leadpipe".into()),
            secret: SecretOverrides {
                admin_token: env("LEADPIPE_ADMIN_TOKEN"),
                meta_app_secret: env("LEADPIPE_META_APP_SECRET"),
                meta_verify_token: env("LEADPIPE_META_VERIFY_TOKEN"),
                meta_page_token: env("LEADPIPE_META_PAGE_TOKEN"),
                meta_app_id: env("LEADPIPE_META_APP_ID"),
            },
            env: Vec::new(),
            state: state::DevState::from_env(),
        }
    }
}

/// A started local stack, ready to serve.
pub struct LocalStack {
    pub app: App,
    pub stack: Stack,
    pub base_url: String,
    pub endpoint: String,
    /// The demo key created (or found) at start, and its token.
    pub demo_key_id: String,
    pub demo_token: String,
    /// Items restored from the kept state at start.
    pub restored: Option<usize>,
    listener: TcpListener,
    emulator: Option<Emulator>,
    sdk: SdkConfig,
    state: Option<state::DevState>,
}

const DEMO_KEY_NAME: &str = "Local demo";

impl LocalStack {
    /// Starts the emulator when needed, creates the resources, binds the
    /// API address and makes sure a demo key exists.
    pub async fn start(opts: Options) -> Result<Self, String> {
        let (endpoint, emulator) = match &opts.endpoint {
            Some(e) => (e.clone(), None),
            None => {
                let port = opts.emulator_port;
                let emu = tokio::task::spawn_blocking(move || Emulator::start("127.0.0.1", port))
                    .await
                    .map_err(|e| e.to_string())??;
                (emu.endpoint.clone(), Some(emu))
            }
        };
        let sdk = sdk_config(&endpoint).await;
        let names = StackNames::new(&opts.stack);
        // Kept state only in an emulator of our own, which starts empty.
        let state = opts.state.clone().filter(|_| emulator.is_some());
        let kept = state.as_ref().filter(|s| s.exists());
        if let Some(s) = kept {
            s.restore_secrets(&sdk, &names).await?;
        }
        let stack = resources::bootstrap(&sdk, &names, opts.secret.clone())
            .await
            .map_err(|e| format!("cannot create the local resources at {endpoint}: {e}"))?;
        let restored = match kept {
            Some(s) => Some(s.restore_table(&sdk, &stack.table).await?),
            None => None,
        };
        let listener = TcpListener::bind(&opts.addr)
            .await
            .map_err(|e| {
                format!(
                    "cannot listen on {}: {e} (set LEADPIPE_ADDR to move the API; the emulator's port is LEADPIPE_EMULATOR_PORT, 4566, or AWS_ENDPOINT_URL to use one already running)",
                    opts.addr
                )
            })?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let base_url = format!("http://{addr}");
        let config = local_config(&stack, &base_url, opts.env.clone())?;
        let app = App::new(config, &sdk);
        // Built now, as the functions' `main` does: no stack that cannot send.
        app.webhook_client().map_err(|e| e.to_string())?;
        app.http().map_err(|e| e.to_string())?;
        let (demo_key_id, demo_token) = demo_key(&app).await?;
        Ok(LocalStack {
            app,
            stack,
            base_url,
            endpoint,
            demo_key_id,
            demo_token,
            restored,
            listener,
            emulator,
            sdk,
            state,
        })
    }

    /// The environment a function needs to run against this stack under
    /// `cargo lambda watch --env-file`, as `KEY=VALUE` lines.
    pub fn lambda_env(&self) -> String {
        let mut lines: Vec<String> = self
            .stack
            .env()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        lines.push(format!("AWS_ENDPOINT_URL={}", self.endpoint));
        let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
        lines.push(format!("AWS_REGION={}", env("AWS_REGION", "us-east-1")));
        lines.push(format!(
            "AWS_ACCESS_KEY_ID={}",
            env("AWS_ACCESS_KEY_ID", "test")
        ));
        lines.push(format!(
            "AWS_SECRET_ACCESS_KEY={}",
            env("AWS_SECRET_ACCESS_KEY", "test")
        ));
        lines.push(format!("LEADPIPE_PUBLIC_URL={}", self.base_url));
        lines.push("LEADPIPE_ALLOW_PRIVATE_TARGETS=1".into());
        lines.join("\n") + "\n"
    }

    /// What `make dev` prints.
    pub fn banner(&self) -> String {
        let s = &self.stack.secret;
        let admin = &self.stack.admin_secret;
        format!(
            "\nLeadpipe is running at {base}\n\n\
             \x20 console            {base}/console  (sign in with the admin token)\n\
             \x20 emulator           {endpoint}\n\
             \x20 admin token        {admin}\n\
             \x20 meta verify token  {verify}\n\
             \x20 meta app secret    {app_secret}\n\
             \x20 demo key           {key}\n\n\
             Send a lead:\n\n\
             \x20 curl -i -X POST {base}/v1/hooks/{key} \\\n\
             \x20   -H 'X-Webhook-Token: {token}' \\\n\
             \x20   -H 'Content-Type: application/json' \\\n\
             \x20   -d '{{\"name\": \"Alex Customer\", \"email\": \"alex@example.com\", \"phone\": \"+1 415 555 0123\"}}'\n\n\
             Read its event back (use the eventId from the answer):\n\n\
             \x20 curl -s {base}/v1/events/EVENT_ID -H 'Authorization: Bearer {admin}'\n\n\
             Run a function under cargo-lambda against this stack:\n\n\
             \x20 cargo lambda watch -A 127.0.0.1 --env-file target/lambda.env\n\
             \x20 cargo lambda invoke ingest --data-file events/ingest-hook-json.json\n\n\
             Or with the CLI (cargo install --path cli):\n\n\
             \x20 LEADPIPE_URL={base} LEADPIPE_TOKEN={admin} leadpipe tail\n\n\
             Ctrl-C stops Leadpipe{stops}.\n\n\
             {kept}\
             Ready: {base} answers (console: {base}/console).\n",
            base = self.base_url,
            endpoint = self.endpoint,
            admin = admin.admin_token,
            verify = s.meta_verify_token.as_deref().unwrap_or("-"),
            app_secret = s.meta_app_secret.as_deref().unwrap_or("-"),
            key = self.demo_key_id,
            token = self.demo_token,
            kept = match (&self.state, self.restored) {
                (Some(st), Some(n)) => format!(
                    "Kept between runs in {}: data and the admin token ({n} items restored now). make dev-reset starts clean.\n\n",
                    st.dir.display()
                ),
                (Some(st), None) => format!(
                    "Kept between runs in {}: data and the admin token. make dev-reset starts clean.\n\n",
                    st.dir.display()
                ),
                (None, _) => String::new(),
            },
            stops = if self.emulator.is_some() {
                " and the emulator"
            } else {
                ""
            },
        )
    }

    /// Serves until `shutdown` completes, polling the queues like Lambda's
    /// event source mappings, then stops the emulator it started.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        // Like an event source mapping's concurrency: `LEADPIPE_POLLERS`
        // batches of each queue at once (default 1).
        let pollers = std::env::var("LEADPIPE_POLLERS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| (1..=16).contains(n))
            .unwrap_or(1);
        let mut consumers = Vec::new();
        for _ in 0..pollers {
            consumers.push(tokio::spawn(poller::run(
                self.app.clone(),
                self.stack.leads_queue_url.clone(),
                leadpipe::aws::resources::LEADS_QUEUE.batch_size as i32,
                |app: App, event| async move { leadpipe::process::handle(&app, event).await },
                stop_rx.clone(),
            )));
            consumers.push(tokio::spawn(poller::run(
                self.app.clone(),
                self.stack.deliveries_queue_url.clone(),
                leadpipe::aws::resources::DELIVERIES_QUEUE.batch_size as i32,
                |app: App, event| async move { leadpipe::deliver::handle(&app, event).await },
                stop_rx.clone(),
            )));
        }
        let sweeper = tokio::spawn(sweep_every(
            self.app.clone(),
            sweep_interval(),
            stop_rx.clone(),
        ));
        let saver = self.state.clone().map(|st| {
            let (sdk, stack, mut stop) = (self.sdk.clone(), self.stack.clone(), stop_rx.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(state::SAVE_EVERY) => {}
                        _ = stop.changed() => return,
                    }
                    if let Err(e) = st.save(&sdk, &stack).await {
                        tracing::warn!(error = %e, "could not save the local state");
                    }
                }
            })
        });
        server::serve(self.app.clone(), self.listener, shutdown).await;
        let _ = stop_tx.send(true);
        for consumer in consumers {
            let _ = consumer.await;
        }
        let _ = sweeper.await;
        if let Some(saver) = saver {
            let _ = saver.await;
        }
        if let Some(st) = &self.state {
            match st.save(&self.sdk, &self.stack).await {
                Ok(n) => println!(
                    "kept {n} items and the secrets in {} (make dev-reset starts clean)",
                    st.dir.display()
                ),
                Err(e) => eprintln!("could not save the local state: {e}"),
            }
        }
        if let Some(emu) = self.emulator {
            let _ = tokio::task::spawn_blocking(move || emu.stop()).await;
        }
    }
}

/// How often the local stack sweeps: `LEADPIPE_SWEEP_INTERVAL_SECONDS`,
/// default 60 (the Terraform schedule runs every 5 minutes).
fn sweep_interval() -> std::time::Duration {
    let secs = std::env::var("LEADPIPE_SWEEP_INTERVAL_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(60);
    std::time::Duration::from_secs(secs)
}

/// The sweeper's timer, as EventBridge Scheduler runs it on AWS.
async fn sweep_every(
    app: App,
    every: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = leadpipe::sweep::sweep(&app).await {
            tracing::warn!(error = %e, "sweep failed; the next one tries again");
        }
    }
}

/// The functions' configuration for the local stack: the stack's resource
/// names, private targets allowed unless said otherwise, and the rest from
/// the environment as on Lambda.
fn local_config(
    stack: &Stack,
    base_url: &str,
    given: Vec<(String, String)>,
) -> Result<Config, String> {
    let resources = stack.env();
    let base_url = base_url.to_owned();
    Config::from_lookup(move |name| {
        if let Some((_, v)) = resources.iter().find(|(k, _)| *k == name) {
            return Some(v.clone());
        }
        if let Some((_, v)) = given.iter().find(|(k, _)| k == name) {
            return Some(v.clone());
        }
        match name {
            vars::PUBLIC_URL => std::env::var(name).ok().or_else(|| Some(base_url.clone())),
            vars::ALLOW_PRIVATE_TARGETS => std::env::var(name).ok().or_else(|| Some("1".into())),
            other => std::env::var(other).ok(),
        }
    })
    .map_err(|e| e.to_string())
}

/// The demo key: found by name among the newest keys, else created.
async fn demo_key(app: &App) -> Result<(String, String), String> {
    let err = |e: leadpipe::error::DataError| format!("demo key: {e:?}");
    let page = PageRequest {
        limit: leadpipe::aws::pagination::MAX_LIMIT,
        cursor: None,
    };
    let scope = &app.default_scope();
    let existing = keys::list(scope, &page).await.map_err(err)?;
    let secrets = app.secrets.get().await.map_err(|e| e.to_string())?;
    if let Some(key) = existing.items.into_iter().find(|k| k.name == DEMO_KEY_NAME) {
        let token = key.token(&secrets.data_key).map_err(|e| e.to_string())?;
        return Ok((key.id.into(), token));
    }
    let changes = KeyChanges {
        name: Some(DEMO_KEY_NAME.into()),
        default_tags: Some(vec!["demo".into()]),
        ..KeyChanges::default()
    };
    let (key, token) = keys::create(scope, changes).await.map_err(err)?;
    Ok((key.id.into(), token))
}
