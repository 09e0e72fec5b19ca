//! The faults the proxy injects, and how often.

/// Shares of calls (0.0–1.0) that get each fault. Checked in this order,
/// each on the calls the previous ones left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultRates {
    pub throttle: f64,
    /// Of TransactWriteItems calls only.
    pub tx_conflict: f64,
    pub error_500: f64,
    pub reset: f64,
    pub after_500: f64,
    pub after_reset: f64,
    pub latency: f64,
    /// Added latency, uniformly in this range (milliseconds).
    pub latency_ms: (u64, u64),
    /// Of conditional writes: applied, answer lost (a 500).
    pub lost_conditional: f64,
    /// Of those: the SDK's retries of the same request fail as well.
    pub lost_conditional_surfaced: f64,
}

impl FaultRates {
    pub const NONE: FaultRates = FaultRates {
        throttle: 0.0,
        tx_conflict: 0.0,
        error_500: 0.0,
        reset: 0.0,
        after_500: 0.0,
        after_reset: 0.0,
        latency: 0.0,
        latency_ms: (0, 0),
        lost_conditional: 0.0,
        lost_conditional_surfaced: 0.0,
    };
}

/// What the proxy did to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    Throttle,
    TxConflict,
    Error500,
    Reset,
    After500,
    AfterReset,
    Latency(u64),
    /// A conditional write's answer lost; `surfaced`: its retries fail too.
    LostConditional {
        surfaced: bool,
    },
}

impl Fault {
    pub(super) fn name(self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::TxConflict => "transaction_conflict",
            Fault::Error500 => "http_500",
            Fault::Reset => "reset",
            Fault::After500 => "http_500_after_forward",
            Fault::AfterReset => "reset_after_forward",
            Fault::Latency(_) => "latency",
            Fault::LostConditional { surfaced: false } => "lost_answer_conditional_write",
            Fault::LostConditional { surfaced: true } => {
                "lost_answer_conditional_write_sdk_retries_failed"
            }
        }
    }
}

pub(super) fn choose(rates: &FaultRates, op: &str, conditional: bool) -> Option<Fault> {
    let roll = |p: f64| p > 0.0 && fastrand::f64() < p;
    if conditional && roll(rates.lost_conditional) {
        return Some(Fault::LostConditional {
            surfaced: roll(rates.lost_conditional_surfaced),
        });
    }
    if roll(rates.throttle) {
        return Some(Fault::Throttle);
    }
    if op == "DynamoDB_20120810.TransactWriteItems" && roll(rates.tx_conflict) {
        return Some(Fault::TxConflict);
    }
    if roll(rates.error_500) {
        return Some(Fault::Error500);
    }
    if roll(rates.reset) {
        return Some(Fault::Reset);
    }
    if roll(rates.after_500) {
        return Some(Fault::After500);
    }
    if roll(rates.after_reset) {
        return Some(Fault::AfterReset);
    }
    if roll(rates.latency) {
        let (lo, hi) = rates.latency_ms;
        return Some(Fault::Latency(fastrand::u64(lo..=hi.max(lo))));
    }
    None
}
