//! The SSRF guard: where Leadpipe may send a webhook. One module, used when
//! a subscription is saved and again on every send.
//!
//! * Scheme `https` only (plus `http` when private targets are allowed, for
//!   local use).
//! * Host names `localhost`, `*.localhost`, `*.internal`, `*.local` refused.
//! * Addresses refused, literal or resolved: loopback, private, link-local
//!   (cloud metadata included), CGNAT, unique-local, multicast, unspecified,
//!   broadcast, reserved and documentation ranges, and IPv6 forms that embed
//!   an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by it. The
//!   WHATWG URL parser turns `2130706433`, `0x7f000001`, `127.1` into
//!   `127.0.0.1` before the check sees them.
//! * At send time the HTTP client resolves through
//!   [`crate::http::resolver::GuardedResolver`], which drops every refused
//!   address, so a name that changes its answer after the check (DNS
//!   rebinding) still cannot reach one.
//!
//! This module is the rules alone, with no I/O; resolving names is
//! [`crate::http::resolver`]'s.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsafe {
    #[error("not a valid absolute URL")]
    Invalid,
    #[error("only https URLs are allowed")]
    Scheme,
    #[error("URLs with credentials are not allowed")]
    Credentials,
    #[error("host {0} is internal")]
    InternalName(String),
    #[error("address {0} is not publicly routable")]
    Address(IpAddr),
}

/// True when `ip` must never be a webhook target.
pub fn forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return forbidden_v4(v4);
    }
    let s = ip.segments();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard-only
}

/// The IPv4 address inside an IPv6 one, for the forms that carry one.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4); // ::ffff:a.b.c.d
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && !(s[6] == 0 && s[7] <= 1) {
        return Some(tail()); // ::a.b.c.d (deprecated compatible)
    }
    if s[0] == 0x0064 && s[1] == 0xff9b {
        return Some(tail()); // NAT64 64:ff9b::/96 (and /48)
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        )); // 6to4
    }
    None
}

pub fn internal_name(host: &str) -> bool {
    let h = host.trim_end_matches('.');
    h == "localhost"
        || h.ends_with(".localhost")
        || h.ends_with(".internal")
        || h == "internal"
        || h.ends_with(".local")
        || h == "local"
}

/// A URL that passed the static checks, with its host.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: Url,
    pub host: Host<String>,
}

/// The checks that need no DNS: scheme, credentials, internal names, literal
/// addresses. `allow_private` admits `http` and private targets.
pub fn check_url(raw: &str, allow_private: bool) -> Result<Target, Unsafe> {
    let url = Url::parse(raw.trim()).map_err(|_| Unsafe::Invalid)?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(Unsafe::Scheme),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Unsafe::Credentials);
    }
    let host = url.host().ok_or(Unsafe::Invalid)?.to_owned();
    if !allow_private {
        match &host {
            Host::Domain(d) if internal_name(d) => return Err(Unsafe::InternalName(d.clone())),
            Host::Ipv4(ip) if forbidden_v4(*ip) => return Err(Unsafe::Address(IpAddr::V4(*ip))),
            Host::Ipv6(ip) if forbidden_v6(*ip) => return Err(Unsafe::Address(IpAddr::V6(*ip))),
            _ => {}
        }
    }
    Ok(Target { url, host })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_loopback_and_friends_is_refused() {
        for url in [
            "https://127.0.0.1/x",
            "https://2130706433/x",
            "https://0x7f000001/x",
            "https://0x7f.0.0.1/x",
            "https://0177.0.0.1/x",
            "https://127.1/x",
            "https://127.0.1/x",
            "https://[::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://[::ffff:7f00:1]/x",
            "https://[::127.0.0.1]/x",
            "https://[64:ff9b::7f00:1]/x",
            "https://[2002:7f00:1::]/x",
            "https://0.0.0.0/x",
            "https://0/x",
            "https://[::]/x",
            "https://10.1.2.3/x",
            "https://172.16.0.1/x",
            "https://172.31.255.255/x",
            "https://192.168.1.1/x",
            "https://169.254.169.254/latest/meta-data/",
            "https://100.64.0.1/x",
            "https://100.127.255.255/x",
            "https://[fd00:ec2::254]/x",
            "https://[fc00::1]/x",
            "https://[fe80::1]/x",
            "https://224.0.0.1/x",
            "https://[ff02::1]/x",
            "https://255.255.255.255/x",
            "https://240.0.0.1/x",
            "https://localhost/x",
            "https://LOCALHOST./x",
            "https://app.localhost/x",
            "https://metadata.google.internal/x",
            "https://printer.local/x",
        ] {
            assert!(check_url(url, false).is_err(), "{url} accepted");
        }
    }

    #[test]
    fn public_targets_pass() {
        for url in [
            "https://hooks.example.com/leadpipe",
            "https://93.184.216.34/x",
            "https://[2606:4700:4700::1111]/x",
            "https://100.128.0.1/x",
            "https://172.32.0.1/x",
            "https://api.hubapi.com:8443/crm/v3/objects/contacts?x=1",
        ] {
            assert!(check_url(url, false).is_ok(), "{url} refused");
        }
    }

    #[test]
    fn scheme_and_credentials() {
        assert_eq!(
            check_url("http://example.com/", false).unwrap_err(),
            Unsafe::Scheme
        );
        assert_eq!(
            check_url("ftp://example.com/", false).unwrap_err(),
            Unsafe::Scheme
        );
        assert_eq!(
            check_url("https://u:p@example.com/", false).unwrap_err(),
            Unsafe::Credentials
        );
        assert_eq!(check_url("not a url", false).unwrap_err(), Unsafe::Invalid);
        assert!(check_url("http://127.0.0.1:8080/hook", true).is_ok());
    }
}
