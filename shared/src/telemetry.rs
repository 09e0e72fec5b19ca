//! Structured logs with `tracing`: JSON on Lambda (or with
//! `LEADPIPE_LOG_FORMAT=json`), compact text elsewhere. The level comes from
//! `RUST_LOG`, else `AWS_LAMBDA_LOG_LEVEL`, else `info`.
//!
//! Whatever the level asked for, the HTTP layers under the AWS SDK and the
//! webhook client, and the Lambda runtime, never log below `info`: at
//! `debug`/`trace` they print whole requests and responses — table items
//! with webhook URLs, headers, tokens; `lambda_runtime` prints every raw
//! event (the admin bearer token, hook tokens, console cookies, the sign-in
//! form, lead PII). Those directives come last and so win over `RUST_LOG`.

use tracing_subscriber::EnvFilter;

/// Targets that dump wire data at `debug`/`trace`.
const WIRE_TARGETS: &[&str] = &[
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_smithy_http",
    "aws_sigv4",
    "aws_runtime",
    "aws_config",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    // The Lambda runtime: `raw JSON event received from Lambda` at trace.
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
];

/// The filter for `level` (an `EnvFilter` directive string), with the
/// wire-dumping targets held at `info`.
pub fn filter(level: &str) -> EnvFilter {
    let mut filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    for target in WIRE_TARGETS {
        if let Ok(directive) = format!("{target}=info").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

pub fn init() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| {
            std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .ok()
                .map(|l| l.to_lowercase())
        })
        .unwrap_or_else(|| "info".into());
    let filter = filter(&level);
    let json = std::env::var("LEADPIPE_LOG_FORMAT").is_ok_and(|f| f == "json")
        || std::env::var("AWS_LAMBDA_FUNCTION_NAME").is_ok();
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .without_time()
            .try_init()
    } else {
        builder.compact().try_init()
    };
    // A second init (tests) keeps the first subscriber.
    drop(result);
}
