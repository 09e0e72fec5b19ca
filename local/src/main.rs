//! `make dev`: the whole of Leadpipe on one machine.

use leadpipe_local::{LocalStack, Options};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    leadpipe::telemetry::init();
    let stack = match LocalStack::start(Options::from_env()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("leadpipe-local: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::create_dir_all("target")
        .and_then(|_| std::fs::write("target/lambda.env", stack.lambda_env()))
    {
        eprintln!("leadpipe-local: could not write target/lambda.env: {e}");
    }
    println!("{}", stack.banner());
    stack.serve(shutdown_signal()).await;
    println!("stopped");
    std::process::ExitCode::SUCCESS
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
