//! The local runner as a child process: started, SIGKILLed mid-batch,
//! started again on the same address.
//!
//! Which program: `LEADPIPE_LOCAL_BIN` when set (`make chaos` points it at
//! `target/debug/leadpipe-local`, which it builds first), else this very
//! binary with the argument `local`, which runs the same library code as
//! `leadpipe-local`'s `main` ([`run_local_stack`]). The second way needs no
//! other binary: a test of this package gets its own binary from cargo
//! (`CARGO_BIN_EXE_leadpipe-chaos`), built before the test runs, whereas a
//! sibling package's binary is built by cargo only when asked.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use leadpipe_local::{LocalStack, Options};
use tokio::process::{Child, Command};

/// How to start the runner.
#[derive(Debug, Clone)]
pub struct RunnerSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub dir: PathBuf,
    pub base_url: String,
}

/// The environment every runner of a harness gets: the AWS endpoint (and
/// the dummy region and credentials moto takes), the API's address, the
/// stack's name and the admin token.
pub fn stack_env(
    endpoint: &str,
    api_port: u16,
    stack: &str,
    admin_token: &str,
) -> Vec<(String, String)> {
    vec![
        ("AWS_ENDPOINT_URL".into(), endpoint.to_owned()),
        ("AWS_REGION".into(), "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ("LEADPIPE_ADDR".into(), format!("127.0.0.1:{api_port}")),
        ("LEADPIPE_STACK".into(), stack.to_owned()),
        ("LEADPIPE_ADMIN_TOKEN".into(), admin_token.to_owned()),
    ]
}

/// A running runner.
pub struct Runner {
    child: Child,
    pub generation: usize,
}

impl RunnerSpec {
    /// `spec` with the sweeper as production runs it: the grace that follows
    /// from the default lead back-off, every 5 minutes (the Terraform
    /// schedule), deliveries stalled after the default.
    pub fn with_production_sweeper(&self) -> RunnerSpec {
        let grace = leadpipe::config::default_sweep_grace(
            Duration::from_millis(1000),
            leadpipe::config::DEFAULT_LEAD_RETRY_MAX,
        );
        let mut p = self.clone();
        p.env.retain(|(k, _)| {
            !matches!(
                k.as_str(),
                "LEADPIPE_SWEEP_GRACE_SECONDS"
                    | "LEADPIPE_SWEEP_INTERVAL_SECONDS"
                    | "LEADPIPE_DELIVERY_STALL_SECONDS"
            )
        });
        p.env.push((
            "LEADPIPE_SWEEP_GRACE_SECONDS".into(),
            grace.as_secs().to_string(),
        ));
        p.env
            .push(("LEADPIPE_SWEEP_INTERVAL_SECONDS".into(), "300".into()));
        p
    }

    /// Starts generation `generation` and waits for `GET /healthz` (the
    /// start itself meets the proxy's faults: a failed bootstrap exits and
    /// is started again, as a crashed Lambda init would be).
    pub async fn start(&self, generation: usize, timeout: Duration) -> Result<Runner, String> {
        let deadline = Instant::now() + timeout;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| e.to_string())?;
        let mut tries = 0;
        loop {
            tries += 1;
            let log =
                std::fs::File::create(self.dir.join(format!("runner-{generation}-{tries}.log")))
                    .map_err(|e| format!("runner log: {e}"))?;
            let err = log.try_clone().map_err(|e| e.to_string())?;
            let mut cmd = Command::new(&self.program);
            cmd.args(&self.args)
                .current_dir(&self.dir)
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(err)
                .kill_on_drop(true);
            for (k, v) in &self.env {
                cmd.env(k, v);
            }
            // The runner dies with the harness, however the harness ends.
            #[cfg(target_os = "linux")]
            // SAFETY: prctl is async-signal-safe and touches no memory of ours.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let mut child = cmd
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", self.program.display()))?;
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    if Instant::now() > deadline {
                        return Err(format!(
                            "the runner keeps exiting at start ({status}); see {}",
                            self.dir.display()
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    break;
                }
                if let Ok(resp) = http.get(format!("{}/healthz", self.base_url)).send().await
                    && resp.status().is_success()
                {
                    return Ok(Runner { child, generation });
                }
                if Instant::now() > deadline {
                    let _ = child.start_kill();
                    return Err(format!("the runner did not answer /healthz in {timeout:?}"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

impl Runner {
    /// SIGKILL, no goodbye: in-flight requests and batches die with it.
    pub async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// What `leadpipe-local`'s `main` does, for `leadpipe-chaos local`.
pub async fn run_local_stack() -> std::process::ExitCode {
    leadpipe::telemetry::init();
    let stack = match LocalStack::start(Options::from_env()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("leadpipe-chaos local: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("{}", stack.banner());
    stack
        .serve(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    std::process::ExitCode::SUCCESS
}
