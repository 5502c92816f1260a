//! Who the client is when Switchboard runs behind a load balancer or reverse proxy: every
//! connection then comes from the proxy, and per-client limits would throttle everyone at once.
//! For a connection from one of `server.trusted_proxies`, the client is the nearest address in
//! `X-Forwarded-For` that is not itself a trusted proxy (read from the right: entries further
//! left were written by the client and prove nothing). Without trusted proxies the header is
//! ignored, so nobody can choose the address their requests count against.

use crate::app::App;
use crate::ingress::http::Peer;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::net::IpAddr;
use std::sync::Arc;

/// An address range: an address and how many leading bits must match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// `10.0.0.0/8`, `fd00::/8`, or a single address.
    pub fn parse(text: &str) -> Result<Net, String> {
        let bad = || format!("{text:?} is not an address or a range like 10.0.0.0/8");
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (text.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Net { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let (a, b, bits) = match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(a.to_bits()), u128::from(b.to_bits()), 32),
            (IpAddr::V6(a), IpAddr::V6(b)) => (a.to_bits(), b.to_bits(), 128),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        shift >= bits || (a >> shift) == (b >> shift)
    }
}

/// The trusted proxies of the configuration, checked at start-up.
pub fn parse_all(list: &[String]) -> anyhow::Result<Vec<Net>> {
    list.iter()
        .map(|t| Net::parse(t).map_err(|e| anyhow::anyhow!("server.trusted_proxies: {e}")))
        .collect()
}

/// The client behind `peer`, given the request's `X-Forwarded-For` values in order.
pub fn client(peer: IpAddr, forwarded: &[&str], trusted: &[Net]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops = forwarded.iter().flat_map(|v| v.split(',')).map(str::trim).rev();
    let mut client = peer;
    for hop in hops {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            // Garbage where an address should be: the last trusted hop is all that is known.
            Err(_) => break,
        }
    }
    client
}

/// Replaces the connection's address with the client's when the connection is a trusted proxy.
pub async fn layer(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    if !app.trusted_proxies.is_empty()
        && let Some(Peer(peer)) = req.extensions().get::<Peer>().copied()
    {
        let forwarded: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let ip = client(peer, &forwarded, &app.trusted_proxies);
        req.extensions_mut().insert(Peer(ip));
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn ranges_hold_what_they_say() {
        let lan = Net::parse("10.0.0.0/8").expect("net");
        assert!(lan.contains(ip("10.200.3.4")));
        assert!(lan.contains(ip("::ffff:10.1.1.1")));
        assert!(!lan.contains(ip("11.0.0.1")));
        assert!(Net::parse("0.0.0.0/0").expect("net").contains(ip("8.8.8.8")));
        assert!(Net::parse("127.0.0.1").expect("net").contains(ip("127.0.0.1")));
        assert!(!Net::parse("127.0.0.1").expect("net").contains(ip("127.0.0.2")));
        assert!(Net::parse("fd00::/8").expect("net").contains(ip("fd12::1")));
        for bad in ["10.0.0.0/33", "fd00::/129", "10.0.0/8", "x", "10.0.0.0/x", ""] {
            assert!(Net::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_client_is_the_first_untrusted_hop_from_the_right() {
        let trusted = parse_all(&["10.0.0.0/8".into()]).expect("nets");
        // Not from a proxy: the header is the client's word and counts for nothing.
        assert_eq!(client(ip("203.0.113.9"), &["1.2.3.4"], &trusted), ip("203.0.113.9"));
        // From the proxy: the address it saw.
        assert_eq!(client(ip("10.0.0.2"), &["198.51.100.7"], &trusted), ip("198.51.100.7"));
        // A client that writes its own header cannot choose its address.
        assert_eq!(
            client(ip("10.0.0.2"), &["1.1.1.1, 198.51.100.7"], &trusted),
            ip("198.51.100.7")
        );
        // Two proxies in a row, across two headers.
        assert_eq!(
            client(ip("10.0.0.2"), &["198.51.100.7", "10.0.0.3"], &trusted),
            ip("198.51.100.7")
        );
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(client(ip("10.0.0.2"), &["nonsense"], &trusted), ip("10.0.0.2"));
        assert_eq!(client(ip("10.0.0.2"), &[], &trusted), ip("10.0.0.2"));
    }
}
