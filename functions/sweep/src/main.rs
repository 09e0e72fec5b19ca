//! The `sweep` Lambda function: run every few minutes by EventBridge
//! Scheduler, it queues again the events and deliveries a lost message left
//! stuck. The schedule's payload is ignored; all logic is in
//! [`leadpipe::sweep`].

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use leadpipe::app::App;
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadpipe::telemetry::init();
    let app = App::from_env()?;
    run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let app = app.clone();
        async move {
            let span = tracing::info_span!("sweep", request_id = %event.context.request_id);
            let swept = leadpipe::sweep::sweep(&app).instrument(span).await?;
            Ok::<_, Error>(serde_json::json!({ "swept": swept }))
        }
    }))
    .await
}
