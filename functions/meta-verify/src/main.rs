//! The `meta-verify` Lambda function: Meta's `hub.challenge` handshake.
//! Reads configuration once per cold start, then hands every request to
//! [`leadpipe::meta_verify::handle`] (its first step is the secret: there is
//! nothing to overlap it with).

use std::convert::Infallible;

use lambda_http::{Error, Request, run, service_fn};
use leadpipe::app::{App, cannot_start};

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadpipe::telemetry::init();
    let app = App::from_env().map_err(cannot_start)?;
    run(service_fn(move |req: Request| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(leadpipe::meta_verify::handle(&app, req).await) }
    }))
    .await
}
