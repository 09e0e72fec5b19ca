//! The `process` Lambda function: consumes the leads queue in batches and
//! answers with partial batch failures (`ReportBatchItemFailures`). Reads
//! configuration once per cold start and starts warming up what the first
//! batch needs; all logic is in [`leadpipe::process`].

use std::convert::Infallible;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use leadpipe::app::{App, WarmUp};

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadpipe::telemetry::init();
    let app = App::from_env()?;
    app.warm_up(WarmUp {
        table: true,
        phones: true,
        ..WarmUp::default()
    });
    run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(leadpipe::process::handle(&app, event.payload).await) }
    }))
    .await
}
