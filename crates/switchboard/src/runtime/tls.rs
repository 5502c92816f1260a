//! One TLS provider (rustls with ring) for every outbound HTTPS client.

/// Installs the process-wide provider; harmless when already done.
pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
