//! The HTTP/1.1 accept loop. axum's `serve` has no knobs for header size or header read
//! time; hyper's connection builder has both.

use crate::config::ServerConfig;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub async fn serve(listener: TcpListener, router: Router, config: &ServerConfig, shutdown: impl Future<Output = ()>) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(config.header_read_timeout_ms))
        .max_buf_size(config.max_header_bytes.max(8192))
        .keep_alive(true);
    // Every connection holds a receiver: `closed()` tells when the last one has finished.
    let (stop_tx, stop_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // The peer's address travels with each request (rate limits per client IP).
        let service = TowerToHyperService::new(
            router
                .clone()
                .layer(axum::Extension(crate::ingress::http::Peer(peer.ip()))),
        );
        let conn = http.serve_connection(TokioIo::new(stream), service).with_upgrades();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    drop(stop_rx);
    let _ = stop_tx.send(());
    if tokio::time::timeout(Duration::from_secs(10), stop_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!("open connections did not close within 10 s");
    }
}
