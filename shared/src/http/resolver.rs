//! Name resolution for outbound webhooks, guarded by the SSRF rules of
//! [`crate::rules::ssrf`]: the save-time check of every address a name
//! resolves to, and the resolver the webhook client sends through.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use url::Host;

use crate::rules::ssrf::{Target, Unsafe, check_url, forbidden_ip, internal_name};

/// Name resolution with optional fixed answers (tests use these to point a
/// public-looking name at loopback).
#[derive(Debug, Clone, Default)]
pub struct Dns {
    overrides: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl Dns {
    pub fn with_overrides(overrides: HashMap<String, Vec<IpAddr>>) -> Self {
        Dns {
            overrides: Arc::new(overrides),
        }
    }

    /// Every address of `host`.
    pub async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        if let Some(ips) = self.overrides.get(&host.to_ascii_lowercase()) {
            return Ok(ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect());
        }
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

/// The save-time check: the static checks, then every address the name
/// resolves to. A name that does not resolve (yet) is accepted: the send-time
/// guard judges what it resolves to then.
pub async fn check_url_resolved(
    raw: &str,
    allow_private: bool,
    dns: &Dns,
) -> Result<Target, Unsafe> {
    let target = check_url(raw, allow_private)?;
    if allow_private {
        return Ok(target);
    }
    if let Host::Domain(d) = &target.host {
        let port = target.url.port_or_known_default().unwrap_or(443);
        if let Ok(addrs) = dns.lookup(d, port).await
            && let Some(bad) = addrs.iter().find(|a| forbidden_ip(a.ip()))
        {
            return Err(Unsafe::Address(bad.ip()));
        }
    }
    Ok(target)
}

/// reqwest's resolver for webhook sends: resolves, then keeps only the
/// addresses the guard allows (all of them when private targets are allowed).
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub dns: Dns,
    pub allow_private: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("{0} resolves only to addresses that are not publicly routable")]
struct Refused(String);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            if !this.allow_private && internal_name(&host) {
                return Err(Box::new(Refused(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            let addrs = this.dns.lookup(&host, 0).await?;
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| this.allow_private || !forbidden_ip(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(Refused(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn resolved_addresses_are_checked() {
        let dns = Dns::with_overrides(HashMap::from([
            (
                "rebind.example.test".to_owned(),
                vec!["127.0.0.1".parse().unwrap()],
            ),
            (
                "mixed.example.test".to_owned(),
                vec![
                    "93.184.216.34".parse().unwrap(),
                    "10.0.0.1".parse().unwrap(),
                ],
            ),
            (
                "public.example.test".to_owned(),
                vec!["93.184.216.34".parse().unwrap()],
            ),
        ]));
        assert!(
            check_url_resolved("https://rebind.example.test/", false, &dns)
                .await
                .is_err()
        );
        assert!(
            check_url_resolved("https://mixed.example.test/", false, &dns)
                .await
                .is_err()
        );
        assert!(
            check_url_resolved("https://public.example.test/", false, &dns)
                .await
                .is_ok()
        );
        assert!(
            check_url_resolved("https://rebind.example.test/", true, &dns)
                .await
                .is_ok()
        );
    }
}
