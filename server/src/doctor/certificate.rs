//! The HTTPS certificate: readable, matching its key, and not expired (or about to).

use super::Check;
use crate::config::{Config, TlsSetting};
use crate::tls;

/// Within this many days of its end, a certificate is a warning.
const EXPIRY_WARNING_DAYS: i64 = 30;

pub fn check(config: &Config) -> Check {
    let Some((cert_path, key_path)) = tls::certificate_paths(config) else {
        return Check::ok("certificate", "Limen serves plain HTTP (tls = \"off\")").advice(
            "fine on loopback or behind a reverse proxy that does TLS; otherwise set tls = \"self-signed\"",
        );
    };
    let self_signed = config.tls == TlsSetting::SelfSigned;
    if self_signed && !cert_path.exists() {
        return Check::ok(
            "certificate",
            "a self-signed certificate will be made at the first start",
        )
        .detail(cert_path.display().to_string());
    }
    let inspected = tls::inspect(&cert_path, &key_path);
    let (fingerprint, until) = match inspected {
        Ok(found) => found,
        Err(error) => {
            return Check::failed("certificate", "the HTTPS certificate cannot be used")
                .detail(crate::error::chain(&error))
                .advice(if self_signed {
                    "delete the two files: Limen makes new ones at start".to_string()
                } else {
                    "tls_cert must be a PEM certificate chain and tls_key its PEM private key"
                        .into()
                })
        }
    };
    let detail = format!(
        "{}: valid until {}, SHA-256 {fingerprint}",
        cert_path.display(),
        until.format("%Y-%m-%d")
    );
    let left = until - chrono::Utc::now();
    if left <= chrono::TimeDelta::zero() {
        Check::failed("certificate", "the HTTPS certificate has expired")
            .detail(detail)
            .advice(if self_signed {
                "restart Limen: it makes a new self-signed certificate".to_string()
            } else {
                "renew it (e.g. certbot renew) and restart Limen".into()
            })
    } else if left < chrono::TimeDelta::days(EXPIRY_WARNING_DAYS) {
        Check::warning(
            "certificate",
            format!(
                "the HTTPS certificate expires in {} day(s)",
                left.num_days()
            ),
        )
        .detail(detail)
        .advice("renew it and restart Limen")
    } else {
        Check::ok("certificate", "the HTTPS certificate is valid").detail(detail)
    }
}
