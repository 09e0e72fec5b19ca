//! The `admin` Lambda function: reads configuration once per cold start, then
//! hands every request to [`leadpipe::admin::handle`].

use std::convert::Infallible;

use lambda_http::{Error, Request, run, service_fn};
use leadpipe::app::{App, WarmUp, cannot_start};

/// Started by a container's first event, beside it: the DynamoDB connection
/// opens and the deployment secret (data key) arrives while the admin
/// secret is fetched.
const WARM_UP: WarmUp = WarmUp {
    table: true,
    secret: true,
    ..WarmUp::NONE
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadpipe::telemetry::init();
    let app = App::from_env().map_err(cannot_start)?;
    // Without the admin secret no request could be authorised.
    app.admin_secret.ensure_configured().map_err(cannot_start)?;
    run(service_fn(move |req: Request| {
        let app = app.clone();
        async move {
            app.warm_up(WARM_UP);
            Ok::<_, Infallible>(leadpipe::admin::handle(&app, req).await)
        }
    }))
    .await
}
