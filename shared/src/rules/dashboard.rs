//! The console dashboard's figures, from rows already read: leads per day
//! by source, and per destination the share of finished deliveries that
//! were delivered and how long delivery took. Pure, so the arithmetic is
//! tested without the emulator (the reads are in
//! `console::dashboard`).

use std::collections::BTreeMap;

use super::clock;

const DAY_MS: i64 = 86_400_000;

/// Most sources drawn one by one; the rest are summed as "other".
pub const MAX_SOURCES: usize = 6;

/// A lead, as the chart needs it.
#[derive(Debug, Clone, Copy)]
pub struct LeadPoint<'a> {
    /// RFC 3339, UTC.
    pub created_at: &'a str,
    pub source: &'a str,
}

/// A delivery, as the success and latency figures need it.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryPoint<'a> {
    pub destination: &'a str,
    /// `pending`, `delivered` or `dead`.
    pub status: &'a str,
    pub created_at_ms: i64,
    /// When it last changed: for a delivered one, when the receiver said 2xx.
    pub updated_at_ms: i64,
}

/// Leads per UTC day, oldest day first, one row per source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySeries {
    /// `YYYY-MM-DD`, oldest first.
    pub days: Vec<String>,
    /// Per source (largest total first, "other" last): a count per day.
    pub sources: Vec<(String, Vec<u32>)>,
}

impl DaySeries {
    /// The most leads on one day, all sources together.
    pub fn peak(&self) -> u32 {
        (0..self.days.len())
            .map(|i| self.sources.iter().map(|(_, c)| c[i]).sum::<u32>())
            .max()
            .unwrap_or(0)
    }

    pub fn total(&self) -> u32 {
        self.sources.iter().flat_map(|(_, c)| c.iter()).sum()
    }
}

/// The UTC day (`YYYY-MM-DD`) of a Unix time in ms.
pub fn day_of(ms: i64) -> String {
    clock::rfc3339(ms)[..10].to_owned()
}

/// Leads per day over the `days` UTC days ending today (`now_ms`), by
/// source; leads outside the window are left out.
pub fn leads_per_day(points: &[LeadPoint<'_>], now_ms: i64, days: usize) -> DaySeries {
    let day_names: Vec<String> = (0..days)
        .rev()
        .map(|back| day_of(now_ms - back as i64 * DAY_MS))
        .collect();
    let index: BTreeMap<&str, usize> = day_names
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), i))
        .collect();
    let mut by_source: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for p in points {
        let Some(day) = p.created_at.get(..10) else {
            continue;
        };
        if let Some(&i) = index.get(day) {
            by_source.entry(p.source).or_insert_with(|| vec![0; days])[i] += 1;
        }
    }
    let mut sources: Vec<(String, Vec<u32>)> = by_source
        .into_iter()
        .map(|(s, c)| (s.to_owned(), c))
        .collect();
    // Largest first; equal totals by name, so the order is stable.
    sources.sort_by(|a, b| {
        let (ta, tb) = (a.1.iter().sum::<u32>(), b.1.iter().sum::<u32>());
        tb.cmp(&ta).then_with(|| a.0.cmp(&b.0))
    });
    if sources.len() > MAX_SOURCES {
        let rest = sources.split_off(MAX_SOURCES - 1);
        let mut other = vec![0; days];
        for (_, c) in rest {
            for (o, n) in other.iter_mut().zip(c) {
                *o += n;
            }
        }
        sources.push(("other".to_owned(), other));
    }
    DaySeries {
        days: day_names,
        sources,
    }
}

/// One destination's deliveries over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationStats {
    pub destination: String,
    pub delivered: u32,
    pub dead: u32,
    pub pending: u32,
    /// From made to delivered (retries included), of the delivered ones.
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
}

impl DestinationStats {
    /// Delivered out of finished (delivered or dead), in per mille; `None`
    /// when none finished.
    pub fn success_permille(&self) -> Option<u32> {
        let finished = self.delivered + self.dead;
        (finished > 0).then(|| (u64::from(self.delivered) * 1000 / u64::from(finished)) as u32)
    }
}

/// The nearest-rank percentile `p` (0–100) of sorted values.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p.min(100)) * sorted.len() as u64).div_ceil(100);
    let i = (rank.max(1) - 1) as usize;
    sorted.get(i.min(sorted.len() - 1)).copied()
}

/// Per destination (by name), the deliveries made in the `days` before
/// `now_ms`.
pub fn destination_stats(
    points: &[DeliveryPoint<'_>],
    now_ms: i64,
    days: i64,
) -> Vec<DestinationStats> {
    let since = now_ms - days * DAY_MS;
    let mut by: BTreeMap<&str, (DestinationStats, Vec<i64>)> = BTreeMap::new();
    for p in points.iter().filter(|p| p.created_at_ms >= since) {
        let (s, lat) = by.entry(p.destination).or_insert_with(|| {
            (
                DestinationStats {
                    destination: p.destination.to_owned(),
                    delivered: 0,
                    dead: 0,
                    pending: 0,
                    p50_ms: None,
                    p95_ms: None,
                },
                Vec::new(),
            )
        });
        match p.status {
            "delivered" => {
                s.delivered += 1;
                lat.push((p.updated_at_ms - p.created_at_ms).max(0));
            }
            "dead" => s.dead += 1,
            _ => s.pending += 1,
        }
    }
    by.into_values()
        .map(|(mut s, mut lat)| {
            lat.sort_unstable();
            s.p50_ms = percentile(&lat, 50);
            s.p95_ms = percentile(&lat, 95);
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-04T12:00:00Z
    const NOW: i64 = 1_796_385_600_000;

    #[test]
    fn days_end_today_oldest_first() {
        let s = leads_per_day(&[], NOW, 7);
        assert_eq!(s.days.len(), 7);
        assert_eq!(s.days[6], "2026-12-04");
        assert_eq!(s.days[0], "2026-11-28");
        assert_eq!(s.total(), 0);
        assert_eq!(s.peak(), 0);
    }

    #[test]
    fn leads_are_counted_by_day_and_source() {
        let pts = [
            LeadPoint {
                created_at: "2026-12-04T01:00:00.000Z",
                source: "key_a",
            },
            LeadPoint {
                created_at: "2026-12-04T23:59:59.999Z",
                source: "key_a",
            },
            LeadPoint {
                created_at: "2026-12-03T10:00:00.000Z",
                source: "meta_lead_ads",
            },
            LeadPoint {
                created_at: "2026-12-03T11:00:00.000Z",
                source: "key_a",
            },
            // Outside the window, and malformed: left out.
            LeadPoint {
                created_at: "2026-11-01T10:00:00.000Z",
                source: "key_a",
            },
            LeadPoint {
                created_at: "bad",
                source: "key_a",
            },
        ];
        let s = leads_per_day(&pts, NOW, 7);
        assert_eq!(s.sources.len(), 2);
        assert_eq!(s.sources[0], ("key_a".into(), vec![0, 0, 0, 0, 0, 1, 2]));
        assert_eq!(
            s.sources[1],
            ("meta_lead_ads".into(), vec![0, 0, 0, 0, 0, 1, 0])
        );
        assert_eq!(s.total(), 4);
        assert_eq!(s.peak(), 2);
    }

    #[test]
    fn small_sources_are_summed_as_other() {
        let names: Vec<String> = (0..9).map(|i| format!("key_{i}")).collect();
        let mut pts = Vec::new();
        for (i, n) in names.iter().enumerate() {
            for _ in 0..(10 - i) {
                pts.push(LeadPoint {
                    created_at: "2026-12-04T01:00:00.000Z",
                    source: n,
                });
            }
        }
        let s = leads_per_day(&pts, NOW, 1);
        assert_eq!(s.sources.len(), MAX_SOURCES);
        assert_eq!(s.sources[0].0, "key_0");
        assert_eq!(s.sources[MAX_SOURCES - 1].0, "other");
        // Five kept (10 … 6 leads); key_5 … key_8 summed: 5 + 4 + 3 + 2.
        assert_eq!(s.sources[MAX_SOURCES - 2].0, "key_4");
        assert_eq!(s.sources[MAX_SOURCES - 1].1, vec![14]);
        assert_eq!(s.total(), pts.len() as u32);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 95), Some(7));
        let v: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), Some(50));
        assert_eq!(percentile(&v, 95), Some(95));
        assert_eq!(percentile(&v, 0), Some(1));
        assert_eq!(percentile(&[1, 2, 3], 50), Some(2));
    }

    #[test]
    fn destinations_have_success_and_latency_per_window() {
        let d = |dest, status, ago_days: i64, took| DeliveryPoint {
            destination: dest,
            status,
            created_at_ms: NOW - ago_days * DAY_MS,
            updated_at_ms: NOW - ago_days * DAY_MS + took,
        };
        let pts = [
            d("crm", "delivered", 1, 100),
            d("crm", "delivered", 2, 300),
            d("crm", "dead", 3, 9_000),
            d("crm", "pending", 0, 0),
            d("crm", "delivered", 20, 50_000),
            d("sheet", "dead", 10, 0),
        ];
        let week = destination_stats(&pts, NOW, 7);
        assert_eq!(week.len(), 1);
        let crm = &week[0];
        assert_eq!((crm.delivered, crm.dead, crm.pending), (2, 1, 1));
        assert_eq!(crm.success_permille(), Some(666));
        assert_eq!((crm.p50_ms, crm.p95_ms), (Some(100), Some(300)));
        let month = destination_stats(&pts, NOW, 30);
        assert_eq!(month.len(), 2);
        assert_eq!(month[0].delivered, 3);
        assert_eq!(month[0].p95_ms, Some(50_000));
        assert_eq!(month[1].destination, "sheet");
        assert_eq!(month[1].success_permille(), Some(0));
        assert_eq!(month[1].p50_ms, None);
    }

    #[test]
    fn nothing_finished_has_no_rate() {
        let s = DestinationStats {
            destination: "x".into(),
            delivered: 0,
            dead: 0,
            pending: 3,
            p50_ms: None,
            p95_ms: None,
        };
        assert_eq!(s.success_permille(), None);
    }
}
