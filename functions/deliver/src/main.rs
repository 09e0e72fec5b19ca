//! The `deliver` Lambda function: consumes the deliveries queue in batches,
//! sends signed webhooks concurrently over one kept-alive client, and
//! answers with partial batch failures. All logic is in
//! [`leadpipe::delivery`].

use std::convert::Infallible;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
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
    run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(leadpipe::delivery::handle(&app, event.payload).await) }
    }))
    .await
}
