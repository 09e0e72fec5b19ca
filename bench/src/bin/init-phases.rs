//! Where a cold start's time goes: times, in one fresh process, each step a
//! function's `main` and its first request take, so that BENCHMARKS.md can
//! say which step to move or cut. `make bench` runs it five times with the
//! functions' environment (the emulator behind it) and reports the medians.
//! Output: one `step<TAB>milliseconds` line per step.

use std::time::Instant;

use leadpipe::App;
use leadpipe::rules::inbound::normalise::{self, Region};
use serde_json::Value;

struct Laps(Instant);

impl Laps {
    fn lap(&mut self, step: &str) {
        let now = Instant::now();
        println!("{step}\t{:.3}", (now - self.0).as_secs_f64() * 1e3);
        self.0 = now;
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let mut t = Laps(Instant::now());
    leadpipe::telemetry::init();
    t.lap("main: tracing subscriber");
    let app = App::from_env().map_err(|e| e.to_string())?;
    t.lap("main: configuration from the environment");
    let sdk = leadpipe::aws::sdk_config_from_env().await;
    t.lap("first use: SDK configuration (credential and region chains, TLS trust store)");
    let _client = aws_sdk_dynamodb::Client::new(&sdk);
    t.lap("first use: one service client");
    app.secrets.get().await.map_err(|e| e.to_string())?;
    t.lap("first use: deployment secret (Secrets Manager client, connection, call)");
    app.store
        .get::<Value>("WARMUP", "WARMUP")
        .await
        .map_err(|e| e.to_string())?;
    t.lap("first use: first DynamoDB read (client, connection, call)");
    app.store
        .get::<Value>("WARMUP", "WARMUP")
        .await
        .map_err(|e| e.to_string())?;
    t.lap("warm: a DynamoDB read on the open connection");
    normalise::load_metadata();
    t.lap("first use: phone metadata");
    normalise::phone("(212) 555-0123", Region::US).map_err(str::to_owned)?;
    t.lap("first use: a US phone number");
    normalise::phone("+49 30 901820", Region::US).map_err(str::to_owned)?;
    t.lap("first use: a phone number of another region");
    normalise::phone("(415) 555-0123", Region::US).map_err(str::to_owned)?;
    t.lap("warm: a US phone number");
    Ok(())
}
