//! Charts drawn on the server as inline SVG: no script, no other host,
//! colours as presentation attributes (the CSP allows no inline style).
//! Each chart has a title for screen readers and a table beside it on the
//! page with the same figures.

use maud::{Markup, html};

use crate::rules::dashboard::{DaySeries, DestinationStats};

/// Colours of the sources, in order (distinguishable, with contrast on
/// white and on the dark theme's background).
pub const PALETTE: [&str; 6] = [
    "#1d6fd1", "#d9822b", "#2e9d5b", "#b4429b", "#7a5cd6", "#6b7785",
];

const W: u32 = 720;
const H: u32 = 180;
const LEFT: u32 = 36;
const BOTTOM: u32 = 22;

/// The colour of the `i`th source.
pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Leads per day as stacked bars, one colour per source.
pub fn leads_per_day(id: &str, s: &DaySeries) -> Markup {
    let days = s.days.len().max(1) as u32;
    let plot_w = W - LEFT;
    let plot_h = H - BOTTOM - 8;
    let peak = s.peak().max(1);
    let slot = plot_w / days;
    let bar = (slot * 7 / 10).max(1);
    let title = format!(
        "Leads per day, {} to {}: {} in all",
        s.days.first().map_or("", String::as_str),
        s.days.last().map_or("", String::as_str),
        s.total()
    );
    html! {
        svg.chart id=(id) viewBox={ "0 0 " (W) " " (H) } role="img" aria-labelledby={ (id) "-t" } {
            title id={ (id) "-t" } { (title) }
            line x1=(LEFT) y1=(H - BOTTOM) x2=(W) y2=(H - BOTTOM) stroke="currentColor" stroke-opacity="0.4" {}
            text x=(LEFT - 4) y="14" text-anchor="end" font-size="11" fill="currentColor" { (peak) }
            text x=(LEFT - 4) y=(H - BOTTOM) text-anchor="end" font-size="11" fill="currentColor" { "0" }
            @for (i, day) in s.days.iter().enumerate() {
                @let x = LEFT + i as u32 * slot + (slot - bar) / 2;
                @let mut y = H - BOTTOM;
                @for (j, (source, counts)) in s.sources.iter().enumerate() {
                    @let n = counts[i];
                    @if n > 0 {
                        @let h = (n * plot_h / peak).max(1);
                        @let top = { y -= h; y };
                        rect.bar x=(x) y=(top) width=(bar) height=(h) fill=(colour(j)) data-day=(day) data-source=(source) data-n=(n) {
                            title { (day) ": " (n) " from " (source) }
                        }
                    }
                }
                @if i == 0 || i + 1 == s.days.len() || (days > 10 && i % 7 == 0 && i + 4 < s.days.len()) {
                    text x=(x + bar / 2) y=(H - 6) text-anchor="middle" font-size="11" fill="currentColor" { (&day[5..]) }
                }
            }
        }
        ul.legend {
            @for (j, (source, counts)) in s.sources.iter().enumerate() {
                li {
                    svg.swatch viewBox="0 0 10 10" aria-hidden="true" { rect width="10" height="10" fill=(colour(j)) {} }
                    " " (source) " " span.muted { "(" (counts.iter().sum::<u32>()) ")" }
                }
            }
        }
    }
}

/// A delivered-out-of-finished bar (green delivered, red dead).
pub fn success_bar(s: &DestinationStats) -> Markup {
    let Some(pm) = s.success_permille() else {
        return html! { span.muted { "nothing finished" } };
    };
    let good = pm / 10;
    html! {
        svg.rate viewBox="0 0 100 10" role="img" aria-label={ (percent(pm)) " delivered" } {
            rect width="100" height="10" fill="#c8372d" {}
            rect width=(good) height="10" fill="#2e9d5b" {}
        }
        " " (percent(pm))
    }
}

/// Per mille as a percentage with one decimal: `66.6 %`.
pub fn percent(permille: u32) -> String {
    format!("{}.{} %", permille / 10, permille % 10)
}

/// A duration for people: `340 ms`, `4.2 s`, `3.5 min`, `2.0 h`.
pub fn duration(ms: i64) -> String {
    match ms {
        ..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1_000.0),
        60_000..3_600_000 => format!("{:.1} min", ms as f64 / 60_000.0),
        _ => format!("{:.1} h", ms as f64 / 3_600_000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::dashboard::{LeadPoint, leads_per_day as series};

    const NOW: i64 = 1_796_385_600_000; // 2026-12-04T12:00:00Z

    #[test]
    fn bars_are_as_tall_as_their_counts() {
        let pts = [
            LeadPoint {
                created_at: "2026-12-04T01:00:00.000Z",
                source: "key_a",
            },
            LeadPoint {
                created_at: "2026-12-04T02:00:00.000Z",
                source: "key_a",
            },
            LeadPoint {
                created_at: "2026-12-04T03:00:00.000Z",
                source: "meta_lead_ads",
            },
            LeadPoint {
                created_at: "2026-12-02T03:00:00.000Z",
                source: "meta_lead_ads",
            },
        ];
        let s = series(&pts, NOW, 7);
        let svg = leads_per_day("c", &s).into_string();
        // Three bars: two on the 4th (stacked), one on the 2nd.
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 3);
        // The peak (3 on the 4th) fills the plot: 150 px; 2 of 3 is 100.
        assert!(svg.contains("height=\"100\""), "{svg}");
        assert!(svg.contains("height=\"50\""), "{svg}");
        assert!(svg.contains("2026-12-04: 2 from key_a"));
        assert!(svg.contains("Leads per day, 2026-11-28 to 2026-12-04: 4 in all"));
        // Every element closed (SVG in HTML has no void elements).
        assert_eq!(svg.matches("<rect").count(), svg.matches("</rect>").count());
        assert!(!svg.contains("style="), "no inline style under the CSP");
    }

    #[test]
    fn an_empty_series_draws_an_empty_chart() {
        let s = series(&[], NOW, 30);
        let svg = leads_per_day("c", &s).into_string();
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 0);
        assert!(svg.contains("0 in all"));
    }

    #[test]
    fn success_is_drawn_and_said() {
        let s = DestinationStats {
            destination: "crm".into(),
            delivered: 2,
            dead: 1,
            pending: 0,
            p50_ms: Some(10),
            p95_ms: Some(20),
        };
        let m = success_bar(&s).into_string();
        assert!(m.contains("width=\"66\""), "{m}");
        assert!(m.contains("66.6 %"));
        let none = DestinationStats {
            delivered: 0,
            dead: 0,
            ..s
        };
        assert!(
            success_bar(&none)
                .into_string()
                .contains("nothing finished")
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(340), "340 ms");
        assert_eq!(duration(4_200), "4.2 s");
        assert_eq!(duration(210_000), "3.5 min");
        assert_eq!(duration(7_200_000), "2.0 h");
    }
}
