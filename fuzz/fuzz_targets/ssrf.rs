//! The SSRF URL guard: never panics; a URL it admits (private targets not
//! allowed) is https, has no credentials, and its literal address, if any,
//! is public.
#![no_main]

use leadpipe::rules::ssrf;
use libfuzzer_sys::fuzz_target;
use url::Host;

fuzz_target!(|raw: &str| {
    if let Ok(target) = ssrf::check_url(raw, false) {
        assert_eq!(target.url.scheme(), "https");
        assert!(target.url.username().is_empty() && target.url.password().is_none());
        match target.host {
            Host::Ipv4(ip) => assert!(!ssrf::forbidden_ip(ip.into()), "{raw}"),
            Host::Ipv6(ip) => assert!(!ssrf::forbidden_ip(ip.into()), "{raw}"),
            Host::Domain(d) => assert!(!ssrf::internal_name(&d), "{raw}"),
        }
    }
    let _ = ssrf::check_url(raw, true);
});
