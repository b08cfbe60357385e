//! Where a webhook may be delivered. A webhook URL is the customer's to choose, and the
//! service posts to it from inside its own network: without a check, `http://127.0.0.1:5432/`
//! or `http://169.254.169.254/` would make the service probe its own machine, its database or
//! its cloud's metadata endpoint for whoever can register a webhook (server-side request
//! forgery).
//!
//! The check is made where the connection is made, not when the URL is registered: a name
//! that resolved to a public address yesterday may resolve to a private one today. The
//! sender's HTTP client resolves names through [`PublicOnly`], which drops every address that
//! is not globally routable, and refuses a URL whose host is such an address written out
//! ([`refusal`]). Redirects are not followed at all (see [`crate::sender`]).
//!
//! A deployment whose receivers are on its own network (and the tests) turns the check off
//! with `webhooks.allow_private_targets`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether `ip` is a globally routable unicast address: not loopback, private, link-local,
/// shared (carrier-grade NAT), documentation, benchmarking, multicast, reserved or unspecified.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network", 0.0.0.0/8
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || (a == 100 && (64..128).contains(&b)) // shared address space, 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments, 192.0.0.0/24
        || ip.is_documentation()
        || (a == 198 && (b == 18 || b == 19)) // benchmarking, 198.18.0.0/15
        || ip.is_multicast()
        || a >= 240) // reserved 240.0.0.0/4 and broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_unique_local() // fc00::/7
        || ip.is_unicast_link_local() // fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated), fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation, 2001:db8::/32
        || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64, 64:ff9b::/96 and 64:ff9b:1::/48
        || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0))
    // IPv4-compatible
}

/// Why the sender will not post to `url`, when its host is an address written out that is
/// not public. Names are checked when they are resolved ([`PublicOnly`]).
pub fn refusal(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let ip = match parsed.host()? {
        url::Host::Ipv4(v4) => IpAddr::V4(v4),
        url::Host::Ipv6(v6) => IpAddr::V6(v6),
        url::Host::Domain(_) => return None,
    };
    (!is_public(ip)).then(|| not_public(&ip.to_string()))
}

fn not_public(what: &str) -> String {
    format!(
        "refused: {what} is not a public address (webhooks.allow_private_targets lets a \
         deployment deliver to its own network)"
    )
}

/// The system resolver, keeping only public addresses; a name with none is an error.
#[derive(Debug, Default, Clone, Copy)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            // Port 0: the client puts the URL's port in.
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| is_public(a.ip()))
                .collect();
            if public.is_empty() {
                let what = match found.first() {
                    Some(a) => format!("{host} ({})", a.ip()),
                    None => host,
                };
                return Err(not_public(&what).into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_globally_routable_addresses_are_public() {
        for private in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "198.17.0.1",
            "198.20.0.1",
            "223.255.255.254",
            "::ffff:8.8.8.8",
            "2001:4860:4860::8888",
            "2a00:1450:4014:80c::200e",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn a_url_naming_a_private_address_is_refused_and_a_name_is_left_to_the_resolver() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://[::1]/hook",
            "https://169.254.169.254/latest/meta-data/",
            "http://10.0.0.5/x",
            "http://0.0.0.0:5432/",
            "http://2130706433/", // 127.0.0.1 as one number, which URL parsing normalises
        ] {
            let why = refusal(url).unwrap_or_else(|| panic!("{url} let through"));
            assert!(why.contains("not a public address"), "{why}");
        }
        for url in ["https://93.184.215.14/hook", "https://hooks.example.com/x"] {
            assert_eq!(refusal(url), None, "{url}");
        }
    }

    #[tokio::test]
    async fn the_resolver_drops_private_addresses_and_fails_when_none_is_left() {
        // `localhost` resolves (from /etc/hosts) to loopback addresses only.
        let err = PublicOnly
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("localhost must not resolve");
        assert!(err.to_string().contains("not a public address"), "{err}");
    }
}
