//! The `meta-verify` Lambda function: Meta's `hub.challenge` handshake.
//! Reads configuration once per cold start, starts fetching the secret the
//! first request needs, then hands every request to
//! [`leadpipe::meta_verify::handle`].

use std::convert::Infallible;

use lambda_http::{Error, Request, run, service_fn};
use leadpipe::app::{App, WarmUp};

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadpipe::telemetry::init();
    let app = App::from_env()?;
    app.warm_up(WarmUp {
        secret: true,
        ..WarmUp::default()
    });
    run(service_fn(move |req: Request| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(leadpipe::meta_verify::handle(&app, req).await) }
    }))
    .await
}
