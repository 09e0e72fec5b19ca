//! `make dev`: the whole of Leadpipe on one machine.

use leadpipe_local::{LocalStack, Options};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    leadpipe::telemetry::init();
    let mut opts = Options::from_env();
    let demo = if std::env::var("LEADPIPE_DEMO").is_ok_and(|v| v.trim() == "1") {
        match leadpipe_local::demo::start().await {
            Ok(d) => {
                opts.env
                    .push(("LEADPIPE_META_GRAPH_URL".into(), d.graph_url.clone()));
                Some(d)
            }
            Err(e) => {
                eprintln!("leadpipe-local: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let stack = match LocalStack::start(opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("leadpipe-local: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let demo_banner = match &demo {
        Some(d) => match leadpipe_local::demo::subscribe(&stack.app, d).await {
            Ok(sub) => leadpipe_local::demo::banner(
                d,
                &stack.base_url,
                stack.stack.secret.meta_app_secret.as_deref().unwrap_or(""),
                &sub,
            ),
            Err(e) => {
                eprintln!("leadpipe-local: {e}");
                return std::process::ExitCode::FAILURE;
            }
        },
        None => String::new(),
    };
    if let Err(e) = std::fs::create_dir_all("target")
        .and_then(|_| std::fs::write("target/lambda.env", stack.lambda_env()))
    {
        eprintln!("leadpipe-local: could not write target/lambda.env: {e}");
    }
    if !demo_banner.is_empty() {
        println!("\n{demo_banner}");
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
