//! The floor for queue consumers: an empty `lambda_runtime` SQS consumer
//! answering with no batch item failures.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_e: LambdaEvent<SqsEvent>| async {
        Ok::<_, Error>(SqsBatchResponse::default())
    }))
    .await
}
