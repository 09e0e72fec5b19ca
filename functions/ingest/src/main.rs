//! The `ingest` Lambda function: builds configuration and clients once per
//! cold start, then hands every request to [`leadpipe::ingest::handle`].

use std::convert::Infallible;

use lambda_http::{Error, Request, run, service_fn};
use leadpipe::App;

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadpipe::telemetry::init();
    let app = App::from_env()?;
    run(service_fn(move |req: Request| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(leadpipe::ingest::handle(&app, req).await) }
    }))
    .await
}
