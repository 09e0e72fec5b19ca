//! The `process` Lambda function: consumes the leads queue in batches and
//! answers with partial batch failures (`ReportBatchItemFailures`). Reads
//! configuration once per cold start; all logic is in [`leadpipe::process`].

use std::convert::Infallible;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use leadpipe::app::{App, WarmUp, cannot_start};

/// Started by a container's first event, beside it: libphonenumber's metadata
/// loads and the Graph API client is built while the event is read.
const WARM_UP: WarmUp = WarmUp {
    phones: true,
    graph: true,
    ..WarmUp::NONE
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadpipe::telemetry::init();
    let app = App::from_env().map_err(cannot_start)?;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let app = app.clone();
        async move {
            app.warm_up(WARM_UP);
            Ok::<_, Infallible>(leadpipe::process::handle(&app, event.payload).await)
        }
    }))
    .await
}
