//! The `process` Lambda function: consumes the leads queue in batches and
//! answers with partial batch failures (`ReportBatchItemFailures`). Builds
//! configuration and clients once per cold start; all logic is in
//! [`leadpipe::process`].

use std::convert::Infallible;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use leadpipe::App;

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadpipe::telemetry::init();
    let app = App::from_env()?;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(leadpipe::process::handle(&app, event.payload).await) }
    }))
    .await
}
