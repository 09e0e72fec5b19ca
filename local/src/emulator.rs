//! The AWS emulator: moto's server, started as a child process that dies
//! with us. It reads its standard input until end-of-file, so whichever way
//! this process ends (Ctrl-C, a panic, `kill -9`), the pipe closes and the
//! emulator stops.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const SCRIPT: &str = r#"
import sys
try:
    from moto.server import ThreadedMotoServer
except ImportError:
    print("moto is not installed: pip install 'moto[server]'", flush=True)
    sys.exit(3)
server = ThreadedMotoServer(ip_address=sys.argv[1], port=int(sys.argv[2]), verbose=False)
server.start()
print("ready", flush=True)
sys.stdin.read()
server.stop()
"#;

/// A running emulator.
pub struct Emulator {
    pub endpoint: String,
    child: Child,
}

impl Emulator {
    /// Starts moto on `host:port` and waits until it answers.
    pub async fn start(host: &str, port: u16) -> Result<Self, String> {
        if std::net::TcpStream::connect((host, port)).is_ok() {
            return Err(format!(
                "{host}:{port} is already in use: stop what runs there, or set AWS_ENDPOINT_URL to use it"
            ));
        }
        let python = std::env::var("LEADPIPE_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = Command::new(&python)
            .arg("-c")
            .arg(SCRIPT)
            .arg(host)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {python}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout from the emulator")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .map_err(|_| "the emulator did not start within 60 s".to_owned())?
            .map_err(|e| e.to_string())?;
        match first.as_deref() {
            Some("ready") => {}
            Some(other) => return Err(format!("the emulator did not start: {other}")),
            None => return Err("the emulator exited at start".into()),
        }
        // Keep draining its output so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Emulator {
            endpoint: format!("http://{host}:{port}"),
            child,
        })
    }

    /// Stops the emulator and waits for it to go.
    pub async fn stop(mut self) {
        drop(self.child.stdin.take());
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
