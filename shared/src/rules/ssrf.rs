//! The SSRF guard: where Leadpipe may send a webhook. One module, used when
//! a subscription is saved and again on every send.
//!
//! * Scheme `https` only (plus `http` when private targets are allowed, for
//!   local use).
//! * Host names `localhost`, `*.localhost`, `*.internal`, `*.local` refused.
//! * Addresses refused, literal or resolved: loopback, private, link-local
//!   (cloud metadata included), CGNAT, unique-local, multicast, unspecified,
//!   broadcast, reserved and documentation ranges. IPv6 forms that embed an
//!   IPv4 address (mapped, SIIT-translated, compatible, NAT64, 6to4, Teredo)
//!   are judged by it: refused when any address they carry is; local-use
//!   NAT64 and the rest of `::/8` are refused whole. The
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
    if let Some(embedded) = embedded_v4(ip) {
        // Judged by what it carries: a translator or relay on the path would
        // deliver to that IPv4 address. Both of Teredo's must be public.
        return embedded.into_iter().flatten().any(forbidden_v4);
    }
    let s = ip.segments();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || s[0] <= 0x00ff // the rest of ::/8: reserved by the IETF, never routed
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001) // local-use NAT64 64:ff9b:1::/48
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard-only
}

/// The IPv4 address(es) inside an IPv6 one, for the forms that carry one
/// where the check can find it; `None` for every other address.
///
/// Local-use NAT64 (`64:ff9b:1::/48`, RFC 8215) is not here: its operator
/// picks the prefix length, so the IPv4 address may sit at any of RFC 6052's
/// positions; the range is not globally reachable and [`forbidden_v6`]
/// refuses all of it.
fn embedded_v4(ip: Ipv6Addr) -> Option<[Option<Ipv4Addr>; 2]> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    let one = |a: Ipv4Addr| Some([Some(a), None]);
    let tail = v4(s[6], s[7]);
    match s {
        // IPv4-mapped ::ffff:a.b.c.d (::ffff:0:0/96)
        [0, 0, 0, 0, 0, 0xffff, ..] => one(tail),
        // IPv4-translated (SIIT, RFC 2765) ::ffff:0:a.b.c.d (::ffff:0:0:0/96)
        [0, 0, 0, 0, 0xffff, 0, ..] => one(tail),
        // :: and ::1 are the unspecified and loopback addresses, not IPv4.
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        // IPv4-compatible ::a.b.c.d (::/96, deprecated)
        [0, 0, 0, 0, 0, 0, ..] => one(tail),
        // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052); bits 32-95 of
        // the /96 are zero, but any address of 64:ff9b::/32 outside the
        // local-use /48 is judged by its last 32 bits, as a translator would.
        [0x0064, 0xff9b, second, ..] if second != 0x0001 => one(tail),
        // 6to4 2002:V4HI:V4LO::/48 (RFC 3056)
        [0x2002, hi, lo, ..] => one(v4(hi, lo)),
        // Teredo 2001:0::/32 (RFC 4380): the server's address in bits 32-63,
        // the client's in the last 32 bits, inverted.
        [0x2001, 0, server_hi, server_lo, _, _, client_hi, client_lo] => Some([
            Some(v4(server_hi, server_lo)),
            Some(v4(!client_hi, !client_lo)),
        ]),
        _ => None,
    }
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
    use proptest::prelude::*;

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
    fn ipv6_forms_carrying_a_private_ipv4_are_refused() {
        for ip in [
            "::ffff:0:127.0.0.1",                   // SIIT-translated (RFC 2765)
            "::ffff:0:a9fe:a9fe",                   // SIIT: 169.254.169.254
            "::ffff:0:0:10.0.0.1",                  // elsewhere in ::/8
            "::10.0.0.1",                           // IPv4-compatible
            "64:ff9b::a9fe:a9fe",                   // NAT64: 169.254.169.254
            "64:ff9b::192.168.0.1",                 // NAT64, dotted
            "64:ff9b:1::a00:1",                     // local-use NAT64
            "64:ff9b:1:a00:1::",                    // local-use NAT64, /48 position
            "2002:a00:1::1",                        // 6to4 of 10.0.0.1
            "2002:a9fe:a9fe::",                     // 6to4 of 169.254.169.254
            "2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo client 127.0.0.1
            "2001:0:a00:1:8000:63bf:a2de:a2fb",     // Teredo server 10.0.0.1
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(forbidden_ip(ip), "{ip} accepted");
            assert!(
                check_url(&format!("https://[{ip}]/x"), false).is_err(),
                "[{ip}] accepted"
            );
        }
    }

    #[test]
    fn ipv6_forms_carrying_a_public_ipv4_pass() {
        for ip in [
            "::ffff:0:5db8:d822",                   // SIIT: 93.184.216.34
            "64:ff9b::93.184.216.34",               // NAT64
            "2002:5db8:d822::1",                    // 6to4
            "2001:0:4136:e378:8000:63bf:a247:2ddd", // Teredo, both public
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!forbidden_ip(ip), "{ip} refused");
        }
    }

    /// Every way an IPv6 address can carry `v4`, at every position a
    /// translator or relay reads it from.
    fn carriers(v4: Ipv4Addr, filler: u16) -> Vec<Ipv6Addr> {
        let o = v4.octets();
        let hi = u16::from_be_bytes([o[0], o[1]]);
        let lo = u16::from_be_bytes([o[2], o[3]]);
        let f = filler;
        let w = |a: u8, b: u8| u16::from_be_bytes([a, b]);
        vec![
            Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, hi, lo), // mapped
            Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, hi, lo), // SIIT-translated
            Ipv6Addr::new(0, 0, 0, 0, 0, 0, hi, lo),      // compatible
            Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, hi, lo), // NAT64 /96
            // Local-use NAT64 at RFC 6052's positions for /48, /56, /64 and
            // /96 (bits 64-71 are zero).
            Ipv6Addr::new(0x64, 0xff9b, 1, hi, w(0, o[2]), w(o[3], 0), f, f),
            Ipv6Addr::new(0x64, 0xff9b, 1, w(0, o[0]), w(0, o[1]), lo, f, f),
            Ipv6Addr::new(0x64, 0xff9b, 1, f, w(0, o[0]), w(o[1], o[2]), w(o[3], 0), f),
            Ipv6Addr::new(0x64, 0xff9b, 1, f, 0, 0, hi, lo),
            Ipv6Addr::new(0x2002, hi, lo, f, f, f, f, f), // 6to4
            Ipv6Addr::new(0x2001, 0, hi, lo, f, f, 0x5db8, 0xd822), // Teredo server
            Ipv6Addr::new(0x2001, 0, 0x5db8, 0xd822, f, f, !hi, !lo), // Teredo client
        ]
    }

    fn private_v4() -> impl Strategy<Value = Ipv4Addr> {
        prop_oneof![
            any::<u32>().prop_map(|n| Ipv4Addr::from((10 << 24) | (n & 0x00ff_ffff))),
            any::<u32>().prop_map(|n| Ipv4Addr::from((127 << 24) | (n & 0x00ff_ffff))),
            any::<u32>().prop_map(|n| Ipv4Addr::from(0xac10_0000 | (n & 0x000f_ffff))),
            any::<u32>().prop_map(|n| Ipv4Addr::from(0xc0a8_0000 | (n & 0x0000_ffff))),
            any::<u32>().prop_map(|n| Ipv4Addr::from(0xa9fe_0000 | (n & 0x0000_ffff))),
            any::<u32>().prop_map(|n| Ipv4Addr::from(0x6440_0000 | (n & 0x003f_ffff))),
            any::<u32>().prop_map(|n| Ipv4Addr::from(n & 0x00ff_ffff)),
        ]
    }

    proptest! {
        #[test]
        fn any_private_ipv4_embedded_in_any_form_is_refused(
            v4 in private_v4(),
            filler in any::<u16>(),
        ) {
            prop_assert!(forbidden_v4(v4));
            for ip in carriers(v4, filler) {
                prop_assert!(forbidden_ip(IpAddr::V6(ip)), "{ip} (carrying {v4}) accepted");
            }
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
