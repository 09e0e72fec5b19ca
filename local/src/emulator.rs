//! The AWS emulator: moto's server, started as a child process that dies
//! with us, with its DynamoDB transactions made atomic (see the script). It reads its standard input until end-of-file, so whichever way
//! this process ends (Ctrl-C, a panic, `kill -9`), the pipe closes and the
//! emulator stops.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
const SCRIPT: &str = r#"
import sys, threading
try:
    from moto.server import ThreadedMotoServer
    from moto.dynamodb.models import DynamoDBBackend
except ImportError:
    print("moto is not installed: pip install 'moto[server]'", flush=True)
    sys.exit(3)

# moto runs TransactWriteItems by deep-copying the table and restoring the
# copy when a condition fails, without a lock: a transaction cancelled on one
# thread can wipe another thread's committed writes. DynamoDB is atomic and
# isolated; one lock around the table operations makes moto so too.
_lock = threading.RLock()
def _serialised(name):
    original = getattr(DynamoDBBackend, name)
    def wrapper(self, *args, **kwargs):
        with _lock:
            return original(self, *args, **kwargs)
    setattr(DynamoDBBackend, name, wrapper)
for _name in ("put_item", "get_item", "update_item", "delete_item", "query", "scan",
              "transact_write_items", "transact_get_items", "batch_get_item", "batch_write_item"):
    _serialised(_name)

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
    /// Starts moto on `host:port` and waits until it answers (about a
    /// second). Blocking: call it at start-up, or from `spawn_blocking`.
    pub fn start(host: &str, port: u16) -> Result<Self, String> {
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
            child,
        })
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
