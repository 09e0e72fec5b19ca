//! What a run is made of ([`Config`]) and its timeline of faults.

use std::path::PathBuf;
use std::time::Duration;

use crate::proxy::FaultRates;
use crate::receivers::Mode;

/// Everything a run is made of.
#[derive(Debug, Clone)]
pub struct Config {
    pub name: &'static str,
    pub leads: usize,
    /// Faults, outages and kills happen within this window; the leads are
    /// sent over its first 85 %.
    pub window: Duration,
    /// The longest wait for the queues to drain once faults stop.
    pub settle: Duration,
    pub meta_share: f64,
    pub duplicate_share: f64,
    pub concurrency: usize,
    pub rates: FaultRates,
    /// When to SIGKILL the runner, as fractions of the window.
    pub runner_kills: Vec<f64>,
    /// When to restart the emulator, as fractions of the window.
    pub emulator_restarts: Vec<f64>,
    /// `VisibilityTimeout` added to ReceiveMessage (see [`crate::proxy`]).
    pub receive_visibility: Option<i64>,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// crm-a's `maxAttempts` (an exponential schedule within the run).
    pub max_attempts: u32,
    /// crm-b's `retrySchedule`, in seconds of the schedule (each one
    /// [`RETRY_UNIT_MS`] in the run): shorter than crm-b's long outage,
    /// so its deliveries die, park in the DLQ and are redriven.
    pub dying_schedule: Vec<u32>,
    /// crm-b refuses connections from … to … (fractions of the window).
    pub long_outage: (f64, f64),
    /// How late a slow endpoint answers (the sender's timeout is 10 s).
    pub slow_seconds: u64,
    /// A sender gives a request up after this long without a 2xx (the
    /// full run's emulator restart is an outage of a minute or more; form
    /// backends and Zapier-style tools retry for longer than that).
    pub give_up_after: Duration,
    pub receiver_error_share: f64,
    pub graph_error_share: f64,
    /// Leadgens (per mille) Graph answers as deleted: their events end
    /// `FAILED`.
    pub gone_per_mille: u64,
    /// The runner generation that runs the sweeper at its production
    /// grace and interval (0 is the first; kills start the next).
    pub production_sweeper_generation: usize,
    pub out_dir: PathBuf,
    pub runner_program: PathBuf,
    pub runner_args: Vec<String>,
}

/// One second of a retry schedule lasts this long in a run (the default
/// schedule's 27.6 hours last 16.5 minutes).
pub const RETRY_UNIT_MS: u64 = 10;

impl Config {
    /// `make chaos`: 2,000 leads, a 6-minute fault window with receiver
    /// outages of up to a minute and one of a minute and a half (longer
    /// than crm-b's schedule), three runner kills, one emulator restart; up
    /// to 30 minutes to settle (it ends when drained and nothing is dead).
    pub fn full(out_dir: PathBuf, runner_program: PathBuf, runner_args: Vec<String>) -> Self {
        Config {
            name: "full",
            leads: 2000,
            window: Duration::from_secs(360),
            settle: Duration::from_secs(1800),
            meta_share: 0.3,
            duplicate_share: 0.03,
            concurrency: 24,
            rates: FaultRates {
                throttle: 0.04,
                tx_conflict: 0.05,
                error_500: 0.015,
                reset: 0.015,
                after_500: 0.01,
                after_reset: 0.01,
                latency: 0.05,
                latency_ms: (20, 400),
                lost_conditional: 0.03,
                lost_conditional_surfaced: 0.3,
            },
            runner_kills: vec![0.2, 0.5, 0.78],
            emulator_restarts: vec![0.15],
            receive_visibility: None,
            retry_base_ms: 1000,
            retry_max_ms: 15000,
            max_attempts: 10,
            // 1 + 3 + 6 + 10 = 20 s in the run; the outage is 94 s, between
            // the first kill and the second (a delivery in flight at a kill
            // waits out the queue's 180 s visibility before its next try).
            dying_schedule: vec![100, 300, 600, 1000],
            long_outage: (0.22, 0.48),
            slow_seconds: 12,
            give_up_after: Duration::from_secs(180),
            receiver_error_share: 0.02,
            graph_error_share: 0.03,
            gone_per_mille: 20,
            production_sweeper_generation: 1,
            out_dir,
            runner_program,
            runner_args,
        }
    }

    /// The test's run: 60 leads, every fault for seconds, then up to
    /// 300 s to drain (it ends as soon as the queues are empty; an event
    /// whose message a fault lost waits for the sweeper's cursor, which
    /// stays 120 s behind whatever the grace).
    pub fn short(out_dir: PathBuf, runner_program: PathBuf, runner_args: Vec<String>) -> Self {
        Config {
            name: "short",
            leads: 60,
            window: Duration::from_secs(20),
            settle: Duration::from_secs(300),
            concurrency: 8,
            runner_kills: vec![0.48, 0.75],
            emulator_restarts: vec![0.62],
            receive_visibility: Some(12),
            retry_base_ms: 200,
            retry_max_ms: 2000,
            // 0.5 + 0.5 s (SQS delays whole seconds: about 2 s); the
            // outage is 8 s.
            dying_schedule: vec![50, 50],
            long_outage: (0.05, 0.42),
            slow_seconds: 11,
            give_up_after: Duration::from_secs(20),
            gone_per_mille: 100,
            ..Config::full(out_dir, runner_program, runner_args)
        }
    }
}

/// What happens at a point of the window.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    Receiver(usize, Mode),
    Graph(Mode),
    KillRunner,
    RestartEmulator,
    /// The operator retries dead deliveries and redrives the DLQs.
    Redrive,
}

/// The run's timeline, sorted.
pub fn timeline(cfg: &Config) -> Vec<(f64, Action)> {
    let slow = Mode::Slow {
        seconds: cfg.slow_seconds,
    };
    let retry_after = (cfg.retry_max_ms / 1000).clamp(1, 10);
    let unavailable = Mode::Unavailable { retry_after };
    let (down, up) = cfg.long_outage;
    let mut t = vec![
        // crm-b: refused for longer than its schedule, then 503 +
        // Retry-After, then too slow.
        (down, Action::Receiver(1, Mode::Refused)),
        (up, Action::Receiver(1, Mode::Healthy)),
        (up + 0.06, Action::Receiver(1, unavailable)),
        (up + 0.10, Action::Receiver(1, Mode::Healthy)),
        (up + 0.13, Action::Receiver(1, slow)),
        (up + 0.17, Action::Receiver(1, Mode::Healthy)),
        // crm-a: shorter troubles.
        (0.30, Action::Receiver(0, slow)),
        (0.33, Action::Receiver(0, Mode::Healthy)),
        (0.70, Action::Receiver(0, unavailable)),
        (0.75, Action::Receiver(0, Mode::Healthy)),
        (0.80, Action::Receiver(0, Mode::Refused)),
        (0.85, Action::Receiver(0, Mode::Healthy)),
        // The Graph API.
        (0.15, Action::Graph(Mode::Refused)),
        (0.22, Action::Graph(Mode::Healthy)),
        (0.40, Action::Graph(unavailable)),
        (0.46, Action::Graph(Mode::Healthy)),
        (0.64, Action::Graph(slow)),
        (0.68, Action::Graph(Mode::Healthy)),
        // The operator, after the long outage, and once more later.
        (up + 0.04, Action::Redrive),
        (0.9, Action::Redrive),
    ];
    t.extend(cfg.runner_kills.iter().map(|f| (*f, Action::KillRunner)));
    t.extend(
        cfg.emulator_restarts
            .iter()
            .map(|f| (*f, Action::RestartEmulator)),
    );
    t.sort_by(|a, b| a.0.total_cmp(&b.0));
    t
}
