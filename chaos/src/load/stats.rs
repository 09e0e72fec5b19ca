//! The load run's arithmetic, pure: percentiles, and the reckoning of
//! what was sent against what the receiver got (by the lead's address).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One lead as the sender saw it.
#[derive(Debug, Clone)]
pub struct LeadTimes {
    pub email: String,
    /// When its first attempt left (`None`: never sent).
    pub sent: Option<Instant>,
    /// When its 2xx came back (`None`: never accepted).
    pub accepted: Option<Instant>,
}

/// One webhook-id as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub email: Option<String>,
    pub event_type: Option<String>,
    /// Every copy acted on, in order.
    pub at: Vec<Instant>,
}

impl From<&crate::receivers::Seen> for Arrival {
    fn from(s: &crate::receivers::Seen) -> Self {
        Arrival {
            email: s.email.clone(),
            event_type: s.event_type.clone(),
            at: s.processed_at.iter().map(|(at, _)| *at).collect(),
        }
    }
}

/// p50/p90/p99/max of a sample, in milliseconds (nearest rank).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    pub count: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// The nearest-rank percentile `p` (0–100] of sorted `values`.
fn rank(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let i = ((p / 100.0) * n as f64).ceil() as usize;
    sorted[i.clamp(1, n) - 1]
}

impl Percentiles {
    /// `None` for an empty sample.
    pub fn of(values: &[f64]) -> Option<Self> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(Percentiles {
            count: v.len(),
            p50: rank(&v, 50.0),
            p90: rank(&v, 90.0),
            p99: rank(&v, 99.0),
            max: v[v.len() - 1],
        })
    }

    pub fn to_json(self) -> Value {
        json!({"count": self.count, "p50Ms": round(self.p50), "p90Ms": round(self.p90),
               "p99Ms": round(self.p99), "maxMs": round(self.max)})
    }
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// What was sent against what arrived.
#[derive(Debug, Clone, Default)]
pub struct Reckoning {
    pub sent: usize,
    pub accepted: usize,
    /// Accepted leads whose `lead.created` arrived at least once.
    pub delivered: usize,
    /// Accepted and never arrived.
    pub lost: Vec<String>,
    /// Leads whose `lead.created` was acted on more than once (same or
    /// another webhook-id), and the extra copies in all.
    pub delivered_more_than_once: usize,
    pub extra_copies: usize,
    /// Arrivals for addresses nobody accepted (another run's, or a bug).
    pub unexpected: usize,
    /// Accept latency (first send → 2xx) and end-to-end latency (2xx →
    /// first copy received), milliseconds, one per lead.
    pub accept_ms: Vec<f64>,
    pub e2e_ms: Vec<f64>,
    /// Copies that arrived before their 2xx was read (counted as 0 ms).
    pub arrived_before_accept: usize,
    /// Seconds from `t0`: first send, last send, last 2xx, last first copy.
    pub first_sent_s: f64,
    pub last_sent_s: f64,
    pub last_accepted_s: f64,
    pub last_delivered_s: f64,
}

impl Reckoning {
    /// Accepted leads a second, from the first send to the last 2xx.
    pub fn accept_rate(&self) -> f64 {
        per_second(self.accepted, self.last_accepted_s - self.first_sent_s)
    }
    /// Leads sent a second, from the first send to the last.
    pub fn send_rate(&self) -> f64 {
        per_second(self.sent, self.last_sent_s - self.first_sent_s)
    }
    /// Leads delivered a second, from the first send to the last arrival.
    pub fn delivery_rate(&self) -> f64 {
        per_second(self.delivered, self.last_delivered_s - self.first_sent_s)
    }
    /// How long deliveries went on after the last 2xx: the backlog's drain.
    pub fn drain_s(&self) -> f64 {
        (self.last_delivered_s - self.last_accepted_s).max(0.0)
    }
    pub fn passed(&self) -> bool {
        self.lost.is_empty() && self.accepted > 0
    }
}

fn per_second(n: usize, seconds: f64) -> f64 {
    if n <= 1 || seconds <= 0.0 {
        return 0.0;
    }
    // n events span n − 1 gaps.
    (n - 1) as f64 / seconds
}

/// Matches every accepted lead with the first `lead.created` copy for its
/// address. Times are read against `t0`.
pub fn reckon(t0: Instant, leads: &[LeadTimes], arrivals: &[Arrival]) -> Reckoning {
    let since = |t: Instant| t.saturating_duration_since(t0).as_secs_f64();
    let mut by_email: HashMap<&str, Vec<Instant>> = HashMap::new();
    for a in arrivals {
        if a.event_type.as_deref() != Some("lead.created") {
            continue;
        }
        if let Some(e) = &a.email {
            by_email.entry(e.as_str()).or_default().extend(&a.at);
        }
    }
    let mut r = Reckoning::default();
    let mut first_sent: Option<Instant> = None;
    for lead in leads {
        let Some(sent) = lead.sent else { continue };
        r.sent += 1;
        first_sent = Some(first_sent.map_or(sent, |f| f.min(sent)));
        r.last_sent_s = r.last_sent_s.max(since(sent));
        let Some(accepted) = lead.accepted else {
            continue;
        };
        r.accepted += 1;
        r.accept_ms
            .push(ms(accepted.saturating_duration_since(sent)));
        r.last_accepted_s = r.last_accepted_s.max(since(accepted));
        let Some(copies) = by_email
            .remove(lead.email.as_str())
            .filter(|c| !c.is_empty())
        else {
            r.lost.push(lead.email.clone());
            continue;
        };
        r.delivered += 1;
        if copies.len() > 1 {
            r.delivered_more_than_once += 1;
            r.extra_copies += copies.len() - 1;
        }
        let first = copies.iter().copied().min().unwrap_or(accepted);
        if first < accepted {
            r.arrived_before_accept += 1;
        }
        r.e2e_ms.push(ms(first.saturating_duration_since(accepted)));
        r.last_delivered_s = r.last_delivered_s.max(since(first));
    }
    r.first_sent_s = first_sent.map_or(0.0, since);
    r.unexpected = by_email.len();
    r
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
