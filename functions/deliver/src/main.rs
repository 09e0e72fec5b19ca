//! The `deliver` Lambda function: consumes the deliveries queue in batches,
//! sends signed webhooks concurrently over one kept-alive client, and
//! answers with partial batch failures. All logic is in
//! [`leadpipe::deliver`].

use std::convert::Infallible;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use leadpipe::app::{App, WarmUp, cannot_start};

/// Started by a container's first event, beside it: the signing secret arrives
/// and the webhook client is built while the delivery is read.
const WARM_UP: WarmUp = WarmUp {
    secret: true,
    webhooks: true,
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
            Ok::<_, Infallible>(leadpipe::deliver::handle(&app, event.payload).await)
        }
    }))
    .await
}
