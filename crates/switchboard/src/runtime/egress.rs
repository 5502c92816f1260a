//! Requests made on a tenant's behalf must not reach the server's own network: a tenant could
//! otherwise make Switchboard call a cloud metadata endpoint or an internal service and read
//! the answer back. That covers the URLs tenants choose (event webhooks, form actions) and
//! every URL a connector's settings can change (`api_base`, `token_url`,
//! `openid_metadata_url`, `gateway_url`, and the service URLs of Teams activities, which a
//! tenant with its own signing keys could forge).
//!
//! Three rules: names resolve to public addresses only (the resolver drops the rest, so a name
//! cannot be re-pointed between a check and the connection); a URL naming a non-public address
//! literally, in any of its spellings, is refused before any connection (reqwest skips the
//! resolver for literal addresses); redirects are never followed (a public server could
//! otherwise send the request on to a private one). `server.allow_private_targets` lifts the
//! first two (laptops, tests, a receiver on the same host).

use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            // Forms that carry an IPv4 address, which is what a connection to them reaches:
            // IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96), NAT64 (64:ff9b::/96) and
            // 6to4 (2002::/16).
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
            if s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
                return is_public_v4(embedded(s[6], s[7]));
            }
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public_v4(embedded(s[6], s[7]));
            }
            // IPv4-translated (::ffff:0:0:0/96, SIIT).
            if s[..6] == [0, 0, 0, 0, 0xffff, 0] {
                return is_public_v4(embedded(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return is_public_v4(embedded(s[1], s[2]));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local (fc00::/7), link-local (fe80::/10), site-local (fec0::/10, deprecated
                // but still routed by some stacks), documentation (2001:db8::/32), local-use
                // NAT64 (64:ff9b:1::/48) and Teredo (2001::/32), whose far end is whatever the
                // relay decides.
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001)
                || (s[0] == 0x2001 && s[1] == 0x0000))
        }
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_broadcast()
        || v4.is_documentation()
        || v4.is_unspecified()
        || v4.is_multicast()
        // Carrier-grade NAT (100.64.0.0/10), "this network" (0.0.0.0/8), IETF protocol
        // assignments (192.0.0.0/24), benchmarking (198.18.0.0/15), reserved (240.0.0.0/4).
        || (a == 100 && (64..128).contains(&b))
        || a == 0
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b & 0xfe) == 18)
        || a >= 240)
}

/// `localhost` and its subdomains always mean this machine (RFC 6761), whatever a resolver
/// says, and asking a DNS server about them would leak the name.
fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Refuses a URL whose host is a non-public address written as such (in any spelling the URL
/// standard accepts: `2130706433`, `0x7f.1`, `017700000001`, `[::ffff:127.0.0.1]`...), or a
/// `localhost` name.
pub fn check_url(url: &str, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    let parsed = Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
    let ip = match host(&parsed) {
        Some(Err(name)) if is_local_name(name) => {
            return Err(format!("{url}: {name} is not a public address"));
        }
        // A name: the resolver keeps it to public addresses.
        Some(Err(_)) => return Ok(()),
        Some(Ok(ip)) => ip,
        None => return Err(format!("{url}: no host")),
    };
    if is_public(ip) {
        Ok(())
    } else {
        Err(format!("{url}: {ip} is not a public address"))
    }
}

/// A URL's host: an address, or a name (`Err`). The parser has already turned every IPv4
/// spelling into its dotted form.
fn host(url: &Url) -> Option<Result<IpAddr, &str>> {
    let host = url.host_str()?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    Some(bare.parse::<IpAddr>().map_err(|_| host))
}

/// The public addresses of `host`, for connections made without reqwest (the Discord
/// Gateway's WebSocket): connecting to one of these is what keeps a name from being re-pointed
/// at a private address after the check.
pub async fn addresses(url: &Url, allow_private: bool) -> Result<Vec<SocketAddr>, String> {
    check_url(url.as_str(), allow_private)?;
    let port = url.port_or_known_default().ok_or_else(|| format!("{url}: no port"))?;
    let addrs: Vec<SocketAddr> = match host(url) {
        Some(Ok(ip)) => vec![SocketAddr::new(ip, port)],
        Some(Err(name)) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|e| format!("{url}: cannot resolve {name}: {e}"))?
            .filter(|a| allow_private || is_public(a.ip()))
            .collect(),
        None => Vec::new(),
    };
    if addrs.is_empty() {
        return Err(format!("{url}: no public address"));
    }
    Ok(addrs)
}

/// At most `max` bytes of an answer's body: a server a tenant chose could otherwise stream
/// without end into memory, and only a short reason is kept anyway.
pub async fn body(mut res: reqwest::Response, max: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = res.chunk().await {
        let room = max.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= max {
            break;
        }
    }
    body
}

/// Resolves names to their public addresses only.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            if is_local_name(&host) {
                return Err(format!("{host} has no public address").into());
            }
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The client for every request made on a tenant's behalf. It follows no redirect, whatever
/// `allow_private` says: a platform API or a tenant's receiver has no reason to redirect, and
/// a redirect is how a public URL would reach a private one.
pub fn client(allow_private: bool) -> anyhow::Result<reqwest::Client> {
    crate::runtime::tls::init();
    // No proxy from the environment: a proxy resolves names itself, so the public-only resolver
    // would never be asked and a tenant's URL could name a host inside the proxy's network.
    let mut builder = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if !allow_private {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    Ok(builder.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn only_public_addresses_pass() {
        for private in [
            "127.0.0.1",
            "127.1.2.3",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "192.0.0.8",
            "198.18.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
        ] {
            assert!(!is_public(private.parse().expect("ip")), "{private}");
        }
        for public in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "::ffff:1.1.1.1",
            "2002:101:101::",
        ] {
            assert!(is_public(public.parse().expect("ip")), "{public}");
        }
    }

    #[test]
    fn every_spelling_of_a_private_address_is_refused() {
        for url in [
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:8080/x",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0x7f000001/",
            "http://017700000001/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://0/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[0:0:0:0:0:ffff:a9fe:a9fe]/",
            "https://localhost/",
            "https://LOCALHOST.:8443/",
            "http://api.localhost/",
            "ws://127.0.0.1:9/gateway",
            "wss://[::1]/",
            "http://[::ffff:0:7f00:1]/",
            "http://[64:ff9b:1::7f00:1]/",
            "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
            "http://[fec0::1]/",
        ] {
            let refused = check_url(url, false);
            assert!(
                refused.as_ref().is_err_and(|e| e.contains("not a public address")),
                "{url}: {refused:?}"
            );
        }
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_url("https://1.1.1.1/x", false).is_ok());
        assert!(check_url("not a url", false).is_err());
        assert!(check_url("http://127.0.0.1:9/x", true).is_ok());
    }

    /// A local HTTP server that counts connections and answers each request with `answer`.
    async fn counting_server(answer: String) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = tcp.read(&mut buf).await;
                    let _ = tcp.write_all(answer.as_bytes()).await;
                });
            }
        });
        (addr, hits)
    }

    fn ok_answer() -> String {
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok".to_owned()
    }

    #[tokio::test]
    async fn localhost_names_resolve_to_nothing() {
        let (addr, hits) = counting_server(ok_answer()).await;
        let client = client(false).expect("client");
        for host in ["localhost", "localhost."] {
            let url = format!("http://{host}:{}/", addr.port());
            // The client alone, without `check_url`: its resolver is what refuses.
            assert!(client.get(&url).send().await.is_err(), "{url}");
            let parsed = Url::parse(&url).expect("url");
            assert!(addresses(&parsed, false).await.is_err(), "{url}");
        }
        assert_eq!(hits.load(Ordering::SeqCst), 0);
        // Lifted: the same names reach the server.
        let url = format!("http://localhost:{}/", addr.port());
        let open = client_allowing_private();
        assert_eq!(open.get(&url).send().await.expect("send").status(), 200);
        let parsed = Url::parse(&url).expect("url");
        assert!(addresses(&parsed, true).await.is_ok_and(|a| !a.is_empty()));
        assert!(hits.load(Ordering::SeqCst) >= 1);
    }

    fn client_allowing_private() -> reqwest::Client {
        client(true).expect("client")
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let (target, target_hits) = counting_server(ok_answer()).await;
        let redirect = format!(
            "HTTP/1.1 302 Found\r\nlocation: http://{target}/internal\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        let (first, _) = counting_server(redirect).await;
        // Even with private targets allowed (both servers are on loopback here), the answer is
        // the redirect itself.
        let res = client_allowing_private()
            .get(format!("http://{first}/"))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), 302);
        assert_eq!(target_hits.load(Ordering::SeqCst), 0, "the redirect was followed");
    }
}
