//! The AWS emulator: moto's server, started as a child process that dies
//! with us, patched (`moto.py`) so that DynamoDB transactions are atomic
//! and isolated and neither transactions nor SQS receives slow down as
//! tables and queues grow. It reads its standard input until end-of-file,
//! so whichever way this process ends (Ctrl-C, a panic, `kill -9`), the
//! pipe closes and the emulator stops.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
/// The patched server (the patches and why: see the script).
const SCRIPT: &str = include_str!("moto.py");

/// A running emulator.
pub struct Emulator {
    pub endpoint: String,
    pub port: u16,
    child: Child,
}

impl Emulator {
    /// Starts moto on `host:port` and waits until it answers (about a
    /// second). Blocking: call it at start-up, or from `spawn_blocking`.
    pub fn start(host: &str, port: u16) -> Result<Self, String> {
        Self::start_recording(host, port, None)
    }

    /// [`Emulator::start`], with moto's recorder logging to `recording`
    /// when given (its `/moto-api/recorder/…` routes then work).
    pub fn start_recording(
        host: &str,
        port: u16,
        recording: Option<&Path>,
    ) -> Result<Self, String> {
        // Bound, not connected to: a connect to a free port in the
        // ephemeral range can meet itself (TCP's simultaneous open) and
        // look like a listener.
        if std::net::TcpListener::bind((host, port)).is_err() {
            return Err(format!(
                "{host}:{port} is already in use: stop what runs there, set LEADPIPE_EMULATOR_PORT to start the emulator on another port, or set AWS_ENDPOINT_URL to use what runs there (LEADPIPE_ADDR moves the API, 127.0.0.1:3000)"
            ));
        }
        let python = std::env::var("LEADPIPE_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut command = Command::new(&python);
        command
            .arg("-c")
            .arg(SCRIPT)
            .arg(host)
            .arg(port.to_string());
        if let Some(path) = recording {
            command.env("MOTO_RECORDER_FILEPATH", path);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {python}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout from the emulator")?;
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        reader
            .read_line(&mut first)
            .map_err(|e| format!("the emulator did not start: {e}"))?;
        if first.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            return Err(match first.trim() {
                "" => "the emulator exited at start".to_owned(),
                other => format!("the emulator did not start: {other}"),
            });
        }
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        Ok(Emulator {
            endpoint: format!("http://{host}:{port}"),
            port,
            child,
        })
    }

    /// [`Emulator::start`] on a free port of `host`, with a fresh port
    /// (up to five) when another process takes the one chosen before the
    /// emulator binds it.
    pub fn start_on_free_port(host: &str, recording: Option<&Path>) -> Result<Self, String> {
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port().map_err(|e| e.to_string())?;
            match Self::start_recording(host, port, recording) {
                Ok(emulator) => return Ok(emulator),
                Err(e) if e.contains("in use") || e.contains("cannot listen") => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Kills the emulator (SIGKILL) and waits for it: a crash, not a stop.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the emulator and waits (up to 5 s) for it to go.
    pub fn stop(mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Leaves the emulator running until this process ends (its standard
    /// input closes then). For test binaries that share one emulator.
    pub fn keep_until_exit(self) -> String {
        let endpoint = self.endpoint.clone();
        std::mem::forget(self);
        endpoint
    }
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
