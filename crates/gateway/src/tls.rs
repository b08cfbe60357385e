//! TLS for the HTTP listener (clause 6: the site and the API over an encrypted connection):
//! rustls with the ring provider, from PEM files, or a self-signed certificate made at start
//! for development (`serve --tls-self-signed`).

use std::path::Path;

use anyhow::Context;
use axum_server::tls_rustls::RustlsConfig;

/// The server configuration from a certificate chain and a private key in PEM files.
pub async fn from_files(cert: &Path, key: &Path) -> anyhow::Result<RustlsConfig> {
    install_provider();
    RustlsConfig::from_pem_file(cert, key)
        .await
        .with_context(|| {
            format!(
                "loading the TLS certificate {} and key {}",
                cert.display(),
                key.display()
            )
        })
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, made now; browsers warn about it.
pub async fn self_signed() -> anyhow::Result<RustlsConfig> {
    install_provider();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .context("generating a self-signed certificate")?;
    RustlsConfig::from_pem(
        cert.cert.pem().into_bytes(),
        cert.key_pair.serialize_pem().into_bytes(),
    )
    .await
    .context("using the self-signed certificate")
}

fn install_provider() {
    // Fails only when a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
