//! The `ingest` Lambda function: reads configuration once per cold start, then
//! hands every request to [`leadpipe::ingest::handle`].

use std::convert::Infallible;

use lambda_http::{Error, Request, run, service_fn};
use leadpipe::app::{App, WarmUp, cannot_start};

/// Started by a container's first event, beside it: libphonenumber's metadata
/// loads while the key and secret are read.
const WARM_UP: WarmUp = WarmUp {
    phones: true,
    ..WarmUp::NONE
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadpipe::telemetry::init();
    let app = App::from_env().map_err(cannot_start)?;
    run(service_fn(move |req: Request| {
        let app = app.clone();
        async move {
            app.warm_up(WARM_UP);
            Ok::<_, Infallible>(leadpipe::ingest::handle(&app, req).await)
        }
    }))
    .await
}
