//! Configuration from the environment, read once per cold start.
//!
//! Every variable a function reads is named here (the infra parity test checks
//! Terraform sets them). Deployment secrets (admin token, data key, Meta
//! secrets) are not configuration: they live in Secrets Manager, in two
//! secrets named here, see [`crate::aws::secrets`].

use std::time::Duration;

use crate::error::Error;
use crate::rules::inbound::normalise::{self, Region};

/// Names of the environment variables Leadpipe reads.
pub mod vars {
    pub const TABLE: &str = "LEADPIPE_TABLE";
    pub const LEADS_QUEUE_URL: &str = "LEADPIPE_LEADS_QUEUE_URL";
    pub const DELIVERIES_QUEUE_URL: &str = "LEADPIPE_DELIVERIES_QUEUE_URL";
    pub const LEADS_DLQ_URL: &str = "LEADPIPE_LEADS_DLQ_URL";
    pub const DELIVERIES_DLQ_URL: &str = "LEADPIPE_DELIVERIES_DLQ_URL";
    pub const SECRET_ID: &str = "LEADPIPE_SECRET_ID";
    /// The admin secret: set for the `admin` function only.
    pub const ADMIN_SECRET_ID: &str = "LEADPIPE_ADMIN_SECRET_ID";
    pub const PUBLIC_URL: &str = "LEADPIPE_PUBLIC_URL";
    pub const DEFAULT_REGION: &str = "LEADPIPE_DEFAULT_REGION";
    pub const ALLOW_PRIVATE_TARGETS: &str = "LEADPIPE_ALLOW_PRIVATE_TARGETS";
    pub const REENGAGE_DAYS: &str = "LEADPIPE_REENGAGE_DAYS";
    pub const RETRY_BASE_MS: &str = "LEADPIPE_RETRY_BASE_MS";
    pub const RETRY_MAX_MS: &str = "LEADPIPE_RETRY_MAX_MS";
    pub const LEAD_RETRY_MAX_MS: &str = "LEADPIPE_LEAD_RETRY_MAX_MS";
    pub const SWEEP_GRACE_S: &str = "LEADPIPE_SWEEP_GRACE_SECONDS";
    pub const DELIVERY_STALL_S: &str = "LEADPIPE_DELIVERY_STALL_SECONDS";
    pub const META_GRAPH_URL: &str = "LEADPIPE_META_GRAPH_URL";
    pub const HUBSPOT_API_URL: &str = "LEADPIPE_HUBSPOT_API_URL";
    pub const PIPEDRIVE_API_URL: &str = "LEADPIPE_PIPEDRIVE_API_URL";
    pub const GOOGLE_OAUTH_URL: &str = "LEADPIPE_GOOGLE_OAUTH_URL";
    pub const SHEETS_API_URL: &str = "LEADPIPE_SHEETS_API_URL";
    pub const SECRET_TTL_S: &str = "LEADPIPE_SECRET_TTL_SECONDS";
    pub const COUNTER_SHARDS: &str = "LEADPIPE_COUNTER_SHARDS";
    pub const TURNSTILE_VERIFY_URL: &str = "LEADPIPE_TURNSTILE_VERIFY_URL";
    pub const LINKEDIN_API_URL: &str = "LEADPIPE_LINKEDIN_API_URL";
    pub const WORKSPACE_RATE_LIMIT: &str = "LEADPIPE_WORKSPACE_RATE_LIMIT_PER_MINUTE";
    /// The functions' timeouts as Terraform sets them: the claim windows
    /// (a delivery's lease, an `Idempotency-Key`'s stale claim) outlast them.
    pub const INGEST_TIMEOUT_S: &str = "LEADPIPE_INGEST_TIMEOUT_SECONDS";
    pub const DELIVER_TIMEOUT_S: &str = "LEADPIPE_DELIVER_TIMEOUT_SECONDS";
    pub const PROCESS_TIMEOUT_S: &str = "LEADPIPE_PROCESS_TIMEOUT_SECONDS";
    /// How long `process` waits for a delivery's first attempt, which it
    /// makes itself on a healthy destination (ms; 0: every attempt goes
    /// through the deliveries queue).
    pub const FIRST_ATTEMPT_MS: &str = "LEADPIPE_FIRST_ATTEMPT_MS";
    /// How long one "second" of a retry schedule lasts, ms (1000; the
    /// chaos harness and the tests compress schedules with a smaller one).
    pub const RETRY_UNIT_MS: &str = "LEADPIPE_RETRY_UNIT_MS";
    /// Failures in a row after which a subscription is `failing` (held).
    pub const FAILING_AFTER: &str = "LEADPIPE_FAILING_AFTER";
    /// How long every delivery may fail before the subscription is disabled.
    pub const DISABLE_AFTER_S: &str = "LEADPIPE_DISABLE_AFTER_SECONDS";

    /// Set by Terraform for every function.
    pub const REQUIRED: [&str; 6] = [
        TABLE,
        LEADS_QUEUE_URL,
        DELIVERIES_QUEUE_URL,
        LEADS_DLQ_URL,
        DELIVERIES_DLQ_URL,
        SECRET_ID,
    ];

    /// Every variable the functions read.
    pub const ALL: [&str; 35] = [
        TABLE,
        LEADS_QUEUE_URL,
        DELIVERIES_QUEUE_URL,
        LEADS_DLQ_URL,
        DELIVERIES_DLQ_URL,
        SECRET_ID,
        ADMIN_SECRET_ID,
        PUBLIC_URL,
        DEFAULT_REGION,
        ALLOW_PRIVATE_TARGETS,
        REENGAGE_DAYS,
        RETRY_BASE_MS,
        RETRY_MAX_MS,
        LEAD_RETRY_MAX_MS,
        SWEEP_GRACE_S,
        DELIVERY_STALL_S,
        META_GRAPH_URL,
        HUBSPOT_API_URL,
        PIPEDRIVE_API_URL,
        GOOGLE_OAUTH_URL,
        SHEETS_API_URL,
        SECRET_TTL_S,
        COUNTER_SHARDS,
        TURNSTILE_VERIFY_URL,
        LINKEDIN_API_URL,
        WORKSPACE_RATE_LIMIT,
        INGEST_TIMEOUT_S,
        DELIVER_TIMEOUT_S,
        PROCESS_TIMEOUT_S,
        FIRST_ATTEMPT_MS,
        RETRY_UNIT_MS,
        FAILING_AFTER,
        DISABLE_AFTER_S,
        "RUST_LOG",
        "LEADPIPE_LOG_FORMAT",
    ];
}

/// Where the deployment's resources are and how it behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// The DynamoDB table name.
    pub table: String,
    /// URL of the leads queue (ingest → process).
    pub leads_queue_url: String,
    /// URL of the deliveries queue (process → deliver).
    pub deliveries_queue_url: String,
    /// The dead-letter queues (dead deliveries go here; `admin` redrives them).
    pub leads_dlq_url: String,
    pub deliveries_dlq_url: String,
    /// Name or ARN of the deployment secret (data key, Meta secrets).
    pub secret_id: String,
    /// Name or ARN of the admin secret (admin token); `None` everywhere but
    /// in `admin`, which refuses to start without it.
    pub admin_secret_id: Option<String>,
    /// Public base URL (`https://hooks.example.com`), used for the `url` of
    /// keys. When absent it is derived from the request's host.
    pub public_url: Option<String>,
    /// Region for phone numbers written without `+` (ISO 3166 alpha-2).
    pub default_region: Region,
    /// Allow `http://` and private subscription targets (local use only).
    pub allow_private_targets: bool,
    /// Silence after which a returning lead is re-engaged.
    pub reengage_after: Duration,
    /// Delivery back-off base and cap.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Cap of the back-off between tries of one event in `process` (Graph
    /// API outages, throttling): long, so an outage of an hour is waited out
    /// within the leads queue's receives.
    pub lead_retry_max: Duration,
    /// An event still `RECEIVED` this long after it arrived is queued again
    /// by the sweeper.
    pub sweep_grace: Duration,
    /// A pending delivery untouched this long is queued again by the
    /// sweeper; `None` derives it from the back-off and the claim lease
    /// (see `deliver::stall_after`).
    pub delivery_stall: Option<Duration>,
    /// Meta Graph API base URL.
    pub meta_graph_url: String,
    /// Cloudflare Turnstile's siteverify endpoint (`form` keys with a
    /// Turnstile secret).
    pub turnstile_verify_url: String,
    /// LinkedIn's REST API base (`linkedin` keys fetch leads there).
    pub linkedin_api_url: String,
    /// HubSpot's API base URL (destinations of kind `hubspot`).
    pub hubspot_api_url: String,
    /// Pipedrive's API base URL; none: `https://{companyDomain}.pipedrive.com/api`.
    pub pipedrive_api_url: Option<String>,
    /// Google's OAuth token endpoint (Sheets destinations).
    pub google_oauth_url: String,
    /// The Sheets API base URL.
    pub sheets_api_url: String,
    /// How long each secret is cached in memory.
    pub secret_ttl: Duration,
    /// How many items a hot counter is spread over.
    pub counter_shards: u32,
    /// Hook requests a minute one workspace may make across its keys,
    /// unless the workspace sets its own: one flooded form cannot spend
    /// every other client's share of the API's throttle. 0: no limit.
    pub workspace_rate_limit_per_minute: u32,
    /// `ingest`'s timeout: an `Idempotency-Key` claim older than this (and
    /// a margin) belongs to a request that died.
    pub ingest_timeout: Duration,
    /// `deliver`'s timeout: a claimed attempt is leased past it.
    pub deliver_timeout: Duration,
    /// `process`'s timeout: a first attempt it claimed is leased past it.
    pub process_timeout: Duration,
    /// `process` makes a delivery's first attempt itself, waiting this
    /// long at most, when the destination is healthy: one write of the
    /// delivered delivery instead of a queue hop, its work entry and a
    /// claim (see [`crate::deliver::first`]). `None`: every attempt goes
    /// through the deliveries queue (Terraform sets it so when deliveries
    /// must leave from the static egress IP, which only `deliver` has).
    pub first_attempt: Option<Duration>,
    /// One step-second of a retry schedule (1 s; smaller compresses every
    /// schedule, for tests and `make chaos`).
    pub retry_unit: Duration,
    /// Failures in a row after which a subscription is `failing`: one
    /// probe keeps retrying, the other deliveries wait (default 5).
    pub failing_after: u32,
    /// A subscription whose deliveries have all failed this long is
    /// disabled, keeping its configuration (default 5 days).
    pub disable_after: Duration,
}

/// The default budget of one workspace: 6,000 requests a minute (100 a
/// second), half the API's default route throttle.
pub const DEFAULT_WORKSPACE_RATE_LIMIT: u32 = 6_000;

/// The default cap of `process`'s back-off: 15 minutes.
pub const DEFAULT_LEAD_RETRY_MAX: Duration = Duration::from_secs(900);

/// The longest an event can rightly stay `RECEIVED`: every back-off of the
/// leads queue's receives, plus five minutes. Past it the event's message
/// is gone (lost, or dead-lettered) and the sweeper queues it again.
pub fn default_sweep_grace(base: Duration, cap: Duration) -> Duration {
    let receives = crate::rules::retry::LEADS_MAX_RECEIVES;
    (1..receives)
        .map(|n| crate::rules::retry::backoff_ceiling(n, base, cap))
        .sum::<Duration>()
        + Duration::from_secs(300)
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required =
            |name: &str| get(name).ok_or_else(|| Error::Config(format!("{name} is not set")));
        let number = |name: &str, default: u64| -> Result<u64, Error> {
            match get(name) {
                None => Ok(default),
                Some(v) => v.parse::<u64>().map_err(|_| {
                    Error::Config(format!("{name} must be a whole number, got {v:?}"))
                }),
            }
        };
        let region_text = get(vars::DEFAULT_REGION).unwrap_or_else(|| "US".into());
        let default_region = normalise::region(&region_text).ok_or_else(|| {
            Error::Config(format!(
                "{} must be an ISO 3166 country code, got {region_text:?}",
                vars::DEFAULT_REGION
            ))
        })?;
        let retry_base = Duration::from_millis(number(vars::RETRY_BASE_MS, 1_000)?);
        let retry_max = Duration::from_millis(number(vars::RETRY_MAX_MS, 15_000)?);
        if retry_base.is_zero() || retry_max < retry_base {
            return Err(Error::Config(format!(
                "{} must be positive and at most {}",
                vars::RETRY_BASE_MS,
                vars::RETRY_MAX_MS
            )));
        }
        let lead_retry_max = Duration::from_millis(number(
            vars::LEAD_RETRY_MAX_MS,
            DEFAULT_LEAD_RETRY_MAX.as_millis() as u64,
        )?);
        if lead_retry_max < retry_base {
            return Err(Error::Config(format!(
                "{} must be at least {}",
                vars::LEAD_RETRY_MAX_MS,
                vars::RETRY_BASE_MS
            )));
        }
        let sweep_grace = match get(vars::SWEEP_GRACE_S) {
            Some(_) => Duration::from_secs(number(vars::SWEEP_GRACE_S, 0)?),
            None => default_sweep_grace(retry_base, lead_retry_max),
        };
        let timeout = |name: &str, default: u64| -> Result<Duration, Error> {
            let s = number(name, default)?;
            if !(1..=900).contains(&s) {
                return Err(Error::Config(format!(
                    "{name} must be between 1 and 900 (Lambda's limit), got {s}"
                )));
            }
            Ok(Duration::from_secs(s))
        };
        let ingest_timeout = timeout(vars::INGEST_TIMEOUT_S, 10)?;
        let deliver_timeout = timeout(vars::DELIVER_TIMEOUT_S, 30)?;
        let process_timeout = timeout(vars::PROCESS_TIMEOUT_S, 30)?;
        let first_ms = number(vars::FIRST_ATTEMPT_MS, 3_000)?;
        if first_ms > 10_000 || Duration::from_millis(first_ms) * 2 > process_timeout {
            return Err(Error::Config(format!(
                "{} must be between 0 and 10000 and at most half of process's timeout, got {first_ms}",
                vars::FIRST_ATTEMPT_MS
            )));
        }
        let first_attempt = (first_ms > 0).then(|| Duration::from_millis(first_ms));
        let retry_unit = Duration::from_millis(number(vars::RETRY_UNIT_MS, 1_000)?);
        if retry_unit.is_zero() || retry_unit > Duration::from_secs(1) {
            return Err(Error::Config(format!(
                "{} must be between 1 and 1000",
                vars::RETRY_UNIT_MS
            )));
        }
        let failing_after = number(vars::FAILING_AFTER, 5)?;
        if !(1..=1000).contains(&failing_after) {
            return Err(Error::Config(format!(
                "{} must be between 1 and 1000",
                vars::FAILING_AFTER
            )));
        }
        let disable_after = Duration::from_secs(number(vars::DISABLE_AFTER_S, 5 * 86_400)?);
        let counter_shards = number(vars::COUNTER_SHARDS, 8)?;
        if !(1..=64).contains(&counter_shards) {
            return Err(Error::Config(format!(
                "{} must be between 1 and 64",
                vars::COUNTER_SHARDS
            )));
        }
        Ok(Config {
            table: required(vars::TABLE)?,
            leads_queue_url: required(vars::LEADS_QUEUE_URL)?,
            deliveries_queue_url: required(vars::DELIVERIES_QUEUE_URL)?,
            leads_dlq_url: required(vars::LEADS_DLQ_URL)?,
            deliveries_dlq_url: required(vars::DELIVERIES_DLQ_URL)?,
            secret_id: required(vars::SECRET_ID)?,
            admin_secret_id: get(vars::ADMIN_SECRET_ID),
            public_url: get(vars::PUBLIC_URL).map(|u| u.trim_end_matches('/').to_owned()),
            default_region,
            allow_private_targets: matches!(
                get(vars::ALLOW_PRIVATE_TARGETS).as_deref(),
                Some("1" | "true" | "yes")
            ),
            reengage_after: Duration::from_secs(86_400 * number(vars::REENGAGE_DAYS, 30)?),
            retry_base,
            retry_max,
            lead_retry_max,
            sweep_grace,
            delivery_stall: match get(vars::DELIVERY_STALL_S) {
                Some(_) => Some(Duration::from_secs(number(vars::DELIVERY_STALL_S, 0)?)),
                None => None,
            },
            meta_graph_url: get(vars::META_GRAPH_URL)
                .unwrap_or_else(|| "https://graph.facebook.com/v25.0".into())
                .trim_end_matches('/')
                .to_owned(),
            turnstile_verify_url: get(vars::TURNSTILE_VERIFY_URL).unwrap_or_else(|| {
                "https://challenges.cloudflare.com/turnstile/v0/siteverify".into()
            }),
            linkedin_api_url: get(vars::LINKEDIN_API_URL)
                .unwrap_or_else(|| "https://api.linkedin.com/rest".into())
                .trim_end_matches('/')
                .to_owned(),
            hubspot_api_url: get(vars::HUBSPOT_API_URL)
                .unwrap_or_else(|| "https://api.hubapi.com".into())
                .trim_end_matches('/')
                .to_owned(),
            pipedrive_api_url: get(vars::PIPEDRIVE_API_URL)
                .map(|u| u.trim_end_matches('/').to_owned()),
            google_oauth_url: get(vars::GOOGLE_OAUTH_URL)
                .unwrap_or_else(|| "https://oauth2.googleapis.com/token".into()),
            sheets_api_url: get(vars::SHEETS_API_URL)
                .unwrap_or_else(|| "https://sheets.googleapis.com".into())
                .trim_end_matches('/')
                .to_owned(),
            secret_ttl: Duration::from_secs(number(vars::SECRET_TTL_S, 300)?),
            counter_shards: counter_shards as u32,
            workspace_rate_limit_per_minute: {
                let n = number(
                    vars::WORKSPACE_RATE_LIMIT,
                    u64::from(DEFAULT_WORKSPACE_RATE_LIMIT),
                )?;
                if n > u64::from(crate::rules::rate::MAX_PER_MINUTE) {
                    return Err(Error::Config(format!(
                        "{} must be at most {}",
                        vars::WORKSPACE_RATE_LIMIT,
                        crate::rules::rate::MAX_PER_MINUTE
                    )));
                }
                n as u32
            },
            ingest_timeout,
            deliver_timeout,
            process_timeout,
            first_attempt,
            retry_unit,
            failing_after: failing_after as u32,
            disable_after,
        })
    }

    /// A configuration for the given resource names with every other value at
    /// its default (the local stack and the tests start from this).
    pub fn for_resources(resources: &[(&'static str, String)]) -> Self {
        let resources = resources.to_vec();
        let lookup = move |name: &str| {
            resources
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        };
        #[allow(clippy::expect_used)]
        Self::from_lookup(lookup).expect("defaults are valid")
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
