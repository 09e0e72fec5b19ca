//! Where a cold start's time goes: times each step a function's `main` and
//! first request take, in one fresh process, so that BENCHMARKS.md can say
//! which step to move or cut. Run by `make bench` after the release build.

use std::time::Instant;

fn lap(label: &str, since: &mut Instant) {
    let now = Instant::now();
    println!("{label:<44} {:>9.3} ms", (now - *since).as_secs_f64() * 1e3);
    *since = now;
}

#[tokio::main]
async fn main() {
    let mut t = Instant::now();
    leadpipe::telemetry::init();
    lap("tracing subscriber", &mut t);
    let sdk = leadpipe::aws::sdk_config_from_env().await;
    lap("aws_config::load (credentials, region, TLS)", &mut t);
    let _d = aws_sdk_dynamodb::Client::new(&sdk);
    lap("DynamoDB client", &mut t);
    let _s = aws_sdk_sqs::Client::new(&sdk);
    lap("SQS client", &mut t);
    let phone = leadpipe::inbound::normalise::phone(
        "+1 415 555 2671",
        leadpipe::inbound::normalise::Region::US,
    );
    lap("first phone normalisation (metadata load)", &mut t);
    let again = leadpipe::inbound::normalise::phone(
        "(212) 555-0123",
        leadpipe::inbound::normalise::Region::US,
    );
    lap("second phone normalisation", &mut t);
    let de = leadpipe::inbound::normalise::phone(
        "+49 30 901820",
        leadpipe::inbound::normalise::Region::US,
    );
    lap("phone in another region", &mut t);
    println!("{phone:?} {again:?} {de:?}");
}
