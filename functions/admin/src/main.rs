//! The `admin` Lambda function: reads configuration once per cold start,
//! starts warming up what the first request needs, then hands every request
//! to [`leadpipe::admin::handle`].

use std::convert::Infallible;

use lambda_http::{Error, Request, run, service_fn};
use leadpipe::app::{App, WarmUp};

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadpipe::telemetry::init();
    let app = App::from_env()?;
    app.warm_up(WarmUp {
        secret: true,
        table: true,
        ..WarmUp::default()
    });
    run(service_fn(move |req: Request| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(leadpipe::admin::handle(&app, req).await) }
    }))
    .await
}
