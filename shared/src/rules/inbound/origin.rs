//! Where a request may come from: a key's allowed domains, matched against
//! the host of `Origin` (else `Referer`).
//!
//! `example.com` matches exactly that host; `*.example.com` matches any
//! subdomain of example.com at any depth, and not example.com itself. Ports
//! and schemes do not matter; internationalised names are compared in their
//! ASCII (punycode) form.

use std::fmt;

use url::{Host, Url};

/// One entry of a key's allow-list, parsed and normalised at save time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainPattern {
    Exact(String),
    /// `*.suffix`: stores `suffix`.
    Subdomains(String),
}

impl fmt::Display for DomainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DomainPattern::Exact(h) => f.write_str(h),
            DomainPattern::Subdomains(s) => write!(f, "*.{s}"),
        }
    }
}

fn normalise_host(text: &str) -> Option<String> {
    let text = text.trim().trim_end_matches('.');
    if text.is_empty() || text.len() > 253 {
        return None;
    }
    match Host::parse(text).ok()? {
        Host::Domain(d) => {
            let ok = d.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
            ok.then(|| d.to_ascii_lowercase())
        }
        Host::Ipv4(ip) => Some(ip.to_string()),
        Host::Ipv6(ip) => Some(format!("[{ip}]")),
    }
}

impl DomainPattern {
    /// Parses an entry as an operator writes it: `example.com`,
    /// `*.example.com`, also `https://example.com/` or `example.com:8080`
    /// (scheme, path and port are dropped).
    pub fn parse(entry: &str) -> Result<Self, String> {
        let raw = entry.trim();
        let mut text = raw.to_ascii_lowercase();
        if let Some(i) = text.find("://") {
            text = text[i + 3..].to_owned();
        }
        if let Some(i) = text.find(['/', '?', '#']) {
            text.truncate(i);
        }
        if !text.starts_with('[')
            && let Some((host, port)) = text.rsplit_once(':')
            && port.bytes().all(|b| b.is_ascii_digit())
        {
            text = host.to_owned();
        }
        let bad = || {
            format!(
                "{:?} is not a domain or *.domain",
                raw.chars().take(80).collect::<String>()
            )
        };
        if let Some(suffix) = text.strip_prefix("*.") {
            let host = normalise_host(suffix).ok_or_else(bad)?;
            if host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok() {
                return Err(bad());
            }
            Ok(DomainPattern::Subdomains(host))
        } else if text.contains('*') {
            Err(bad())
        } else {
            normalise_host(&text)
                .map(DomainPattern::Exact)
                .ok_or_else(bad)
        }
    }

    /// True when `host` (already normalised) is allowed by this pattern.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            DomainPattern::Exact(h) => h == host,
            DomainPattern::Subdomains(suffix) => {
                host.len() > suffix.len() + 1
                    && host.ends_with(suffix.as_str())
                    && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
            }
        }
    }
}

/// The host a request claims to come from: `Origin`'s, else `Referer`'s.
/// An `Origin` that is present but has no host (`null`) yields `None`; the
/// `Referer` is then not consulted.
pub fn request_host(origin: Option<&str>, referer: Option<&str>) -> Option<String> {
    let source = origin.or(referer)?;
    let url = Url::parse(source.trim()).ok()?;
    normalise_host(url.host_str()?)
}

/// Whether a request passes the allow-list: an empty list allows everything
/// (with or without the headers); otherwise the host must match an entry.
pub fn allowed(patterns: &[DomainPattern], origin: Option<&str>, referer: Option<&str>) -> bool {
    if patterns.is_empty() {
        return true;
    }
    match request_host(origin, referer) {
        Some(host) => patterns.iter().any(|p| p.matches(&host)),
        None => false,
    }
}

/// Longest origin an error message repeats.
pub const MAX_NAMED: usize = 100;

/// The origin a refused request came from, for its error message: `Origin`
/// (else `Referer`) as sent, every character outside printable ASCII
/// escaped (`\u{…}`, `\n`) and cut to [`MAX_NAMED`] characters; what
/// was missing when neither came.
pub fn named(origin: Option<&str>, referer: Option<&str>) -> String {
    let (which, value) = match (origin, referer) {
        (Some(o), _) => ("Origin", o),
        (None, Some(r)) => ("Referer", r),
        (None, None) => return "a request without Origin or Referer".to_owned(),
    };
    let escaped: String = value
        .chars()
        .flat_map(|c| {
            let plain = c.is_ascii_graphic() || c == ' ';
            let out: Vec<char> = if plain && c != '\\' {
                vec![c]
            } else {
                c.escape_default().collect()
            };
            out
        })
        .collect();
    let cut: String = escaped.chars().take(MAX_NAMED).collect();
    let more = if escaped.chars().count() > MAX_NAMED {
        "…"
    } else {
        ""
    };
    format!("{which} {cut}{more}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> DomainPattern {
        DomainPattern::parse(s).unwrap()
    }

    #[test]
    fn parsing_normalises() {
        assert_eq!(p("Example.COM"), DomainPattern::Exact("example.com".into()));
        assert_eq!(
            p("https://example.com/path"),
            DomainPattern::Exact("example.com".into())
        );
        assert_eq!(
            p("example.com:8443"),
            DomainPattern::Exact("example.com".into())
        );
        assert_eq!(
            p("*.example.com"),
            DomainPattern::Subdomains("example.com".into())
        );
        assert_eq!(
            p("bücher.de"),
            DomainPattern::Exact("xn--bcher-kva.de".into())
        );
        assert_eq!(p("localhost"), DomainPattern::Exact("localhost".into()));
        for bad in [
            "",
            "*",
            "*.",
            "a*.example.com",
            "exa mple.com",
            "*.127.0.0.1",
            "-a.com",
            "a..com",
        ] {
            assert!(DomainPattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn wildcard_semantics() {
        let w = p("*.example.com");
        assert!(w.matches("www.example.com"));
        assert!(w.matches("a.b.example.com"));
        assert!(!w.matches("example.com"));
        assert!(!w.matches("badexample.com"));
        assert!(!w.matches("example.com.evil.test"));
    }

    #[test]
    fn origin_then_referer() {
        let list = vec![p("*.example.com"), p("shop.test")];
        assert!(allowed(&list, Some("https://www.example.com"), None));
        assert!(allowed(&list, None, Some("https://shop.test/landing?x=1")));
        assert!(allowed(&list, Some("http://SHOP.test:8080"), None));
        assert!(!allowed(&list, Some("https://example.com"), None));
        assert!(!allowed(&list, Some("https://example.com.evil.test"), None));
        assert!(!allowed(&list, Some("null"), Some("https://shop.test/")));
        assert!(!allowed(&list, None, None));
        assert!(allowed(&[], None, None));
        assert!(allowed(&[], Some("https://anything.test"), None));
    }

    proptest! {
        #[test]
        fn subdomains_of_a_pattern_always_match(
            sub in "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?",
            base in "[a-z]{1,12}\\.(com|org|co\\.uk)"
        ) {
            let w = DomainPattern::parse(&format!("*.{base}")).unwrap();
            let origin = format!("https://{sub}.{base}");
            prop_assert!(allowed(std::slice::from_ref(&w), Some(&origin), None));
            // The base itself never matches a wildcard.
            let base_origin = format!("https://{base}");
            prop_assert!(!allowed(&[w], Some(&base_origin), None));
        }

        #[test]
        fn a_suffix_glued_on_never_matches(
            base in "[a-z]{1,12}\\.com",
            evil in "[a-z]{1,12}\\.(test|net)"
        ) {
            let list = vec![DomainPattern::parse(&base).unwrap(),
                            DomainPattern::parse(&format!("*.{base}")).unwrap()];
            let origin = format!("https://{base}.{evil}");
            prop_assert!(!allowed(&list, Some(&origin), None));
            let origin = format!("https://x{base}");
            prop_assert!(!allowed(&list, Some(&origin), None));
        }

        #[test]
        fn matching_never_panics(origin in any::<String>(), referer in any::<String>(), entry in any::<String>()) {
            if let Ok(p) = DomainPattern::parse(&entry) {
                let _ = allowed(&[p], Some(&origin), Some(&referer));
            }
            let _ = request_host(Some(&origin), None);
        }
    }

    #[test]
    fn a_refused_origin_is_named_escaped_and_bounded() {
        assert_eq!(
            named(Some("https://evil.example"), Some("https://x.example/")),
            "Origin https://evil.example"
        );
        assert_eq!(
            named(None, Some("https://x.example/p")),
            "Referer https://x.example/p"
        );
        assert_eq!(named(None, None), "a request without Origin or Referer");
        assert_eq!(named(Some("a\nb\u{7}é"), None), "Origin a\\nb\\u{7}\\u{e9}");
        let long = "https://".to_owned() + &"a".repeat(500);
        let n = named(Some(&long), None);
        assert_eq!(n.chars().count(), "Origin ".len() + MAX_NAMED + 1);
        assert!(n.ends_with('…'));
    }
}
