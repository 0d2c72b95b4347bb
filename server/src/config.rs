//! Limen's settings. Each one comes from the environment, else from a TOML file with the same
//! names in lower case without the `LIMEN_` prefix, else from its default. Env wins.
//!
//! | variable                | default                | meaning                                     |
//! |-------------------------|------------------------|---------------------------------------------|
//! | `LIMEN_CONFIG`          | `./.limen/limen.toml`, then `/etc/limen/limen.toml` | the TOML file  |
//! | `LIMEN_LISTEN`          | `127.0.0.1:18443`      | HTTP listen address                         |
//! | `LIMEN_DATABASE_URL` (or `DATABASE_URL`) | none: `make run` writes one | PostgreSQL URL     |
//! | `LIMEN_LIBVIRT_URI`     | `qemu:///system`       | libvirt connection (`test:///default` demo) |
//! | `LIMEN_DOMAIN_TYPE`     | `auto`                 | `kvm`, `qemu` (TCG) or `auto`               |
//! | `LIMEN_DATA_DIR`        | `/var/lib/limen`       | root of `disks/`, `isos/`, `images/`        |
//! | `LIMEN_RECONCILE_SECS`  | `60`                   | period of the reconciler                    |
//! | `LIMEN_CONSOLE_AUTOSTART` | `true`               | opening a console starts (or resumes) the VM first |
//! | `LIMEN_SESSION_HOURS`   | `168`                  | a login session ends after this long unused |
//! | `LIMEN_SECURE_COOKIE`   | `false`                | mark the session cookie `Secure` (HTTPS)    |
//! | `LIMEN_PUBLIC_URL`      | none                   | the origin browsers use (behind a proxy)   |
//! | `LIMEN_TRUSTED_PROXIES` | none                   | proxies whose `X-Forwarded-For` is believed |
//! | `LIMEN_SITE_ROOT`       | `<binary dir>/../site`, then `/usr/share/limen/site` | dashboard assets |
//! | `LIMEN_TLS`             | `off`                  | `off`, `self-signed` or `files` (HTTPS)     |
//! | `LIMEN_TLS_CERT`, `LIMEN_TLS_KEY` | none         | PEM files for `tls = "files"`               |
//! | `LIMEN_LOG_FORMAT`      | `text`                 | `text` or `json` log lines                  |
//! | `LIMEN_FAILPOINT`       | none                   | tests' build only: `KIND.STEP:error|abort` (see `ops::failpoints`); ignored by the product build |

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the config file {path} is not valid TOML for Limen")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("{name} has an invalid value {value:?}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "no database configured: set LIMEN_DATABASE_URL, or run `make run` once, which starts a \
         local PostgreSQL and writes .limen/limen.toml"
    )]
    NoDatabase,
}

/// Whether guests run with hardware virtualisation (`kvm`) or software emulation (`qemu`, TCG).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainTypeSetting {
    /// `kvm` only where hardware virtualisation is really there (see `host::domain_type`).
    Auto,
    Kvm,
    Qemu,
}

impl FromStr for DomainTypeSetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "kvm" => Ok(Self::Kvm),
            "qemu" => Ok(Self::Qemu),
            _ => Err("expected auto, kvm or qemu".into()),
        }
    }
}

/// How Limen serves HTTPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSetting {
    /// Plain HTTP (loopback, or behind a reverse proxy that does TLS).
    Off,
    /// A certificate Limen makes on first start and keeps in `<data_dir>/tls/`.
    SelfSigned,
    /// A certificate chain and its private key, PEM files (e.g. from Let's Encrypt).
    Files { cert: PathBuf, key: PathBuf },
}

/// The shape of the log lines on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err("expected text or json".into()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    pub libvirt_uri: String,
    pub domain_type: DomainTypeSetting,
    pub data_dir: PathBuf,
    pub reconcile_secs: u64,
    /// Whether opening a console starts a stopped VM (and resumes a paused one) first.
    pub console_autostart: bool,
    /// The largest ISO an upload may bring, in MiB.
    pub iso_upload_max_mb: u64,
    /// How fast making a base image may read and write, in MiB/s (0: as fast as the disks go).
    pub image_copy_mb_per_s: u64,
    /// How many snapshots one VM may have.
    pub max_snapshots_per_vm: u32,
    /// How often every VM's snapshots are read again, in seconds (0: never): libvirt sends no
    /// event when a snapshot of a stopped VM is made or deleted outside Limen.
    pub snapshot_sweep_secs: u64,
    /// How often the resource statistics are collected, in seconds (0: never).
    pub stats_secs: u64,
    /// How many days the per-minute statistics are kept in the database.
    pub stats_retention_days: u32,
    /// A token Prometheus may scrape `/metrics` with (besides an admin's API token).
    pub metrics_token: Option<String>,
    /// The SSH private key for hosts added as `qemu+ssh://…` without a `keyfile` of their own.
    pub ssh_keyfile: Option<PathBuf>,
    pub session_hours: u32,
    pub secure_cookie: bool,
    /// `scheme://host[:port]` browsers use to reach Limen, when it differs from what Limen
    /// sees (a reverse proxy rewriting `Host`).
    pub public_url: Option<String>,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub site_root: PathBuf,
    pub tls: TlsSetting,
    pub log_format: LogFormat,
    /// Tests only: a saga step to fail or crash at (env only, never from the file).
    pub failpoint: Option<String>,
    /// The file the settings were read from, if any (logged at start).
    pub file: Option<PathBuf>,
}

/// The TOML file: every key optional, same meaning as the variable.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    database_url: Option<String>,
    libvirt_uri: Option<String>,
    domain_type: Option<String>,
    data_dir: Option<PathBuf>,
    reconcile_secs: Option<u64>,
    console_autostart: Option<bool>,
    iso_upload_max_mb: Option<u64>,
    image_copy_mb_per_s: Option<u64>,
    max_snapshots_per_vm: Option<u32>,
    snapshot_sweep_secs: Option<u64>,
    stats_secs: Option<u64>,
    stats_retention_days: Option<u32>,
    metrics_token: Option<String>,
    ssh_keyfile: Option<PathBuf>,
    session_hours: Option<u32>,
    secure_cookie: Option<bool>,
    public_url: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    site_root: Option<PathBuf>,
    tls: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    log_format: Option<String>,
}

fn parse<T: FromStr>(name: &'static str, value: String) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e: T::Err| ConfigError::Invalid {
        name,
        reason: e.to_string(),
        value,
    })
}

impl Config {
    /// Reads the file named by `explicit_file` (or the default locations) and the environment.
    pub fn load(explicit_file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(explicit_file, |name| std::env::var(name).ok())
    }

    /// The same, with the environment given as a function (tests pass their own).
    pub fn load_from(
        explicit_file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let file_path = explicit_file
            .map(Path::to_path_buf)
            .or_else(|| env("LIMEN_CONFIG").map(PathBuf::from))
            .or_else(|| {
                [".limen/limen.toml", "/etc/limen/limen.toml"]
                    .into_iter()
                    .map(PathBuf::from)
                    .find(|path| path.is_file())
            });
        let file = match &file_path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.clone(),
                    source,
                })?
            }
            None => FileConfig::default(),
        };

        let listen = env("LIMEN_LISTEN")
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:18443".into());
        let database_url = env("LIMEN_DATABASE_URL")
            .or_else(|| env("DATABASE_URL"))
            .or(file.database_url)
            .ok_or(ConfigError::NoDatabase)?;
        let domain_type = env("LIMEN_DOMAIN_TYPE")
            .or(file.domain_type)
            .unwrap_or_else(|| "auto".into());
        let reconcile_secs = match env("LIMEN_RECONCILE_SECS") {
            Some(value) => parse("LIMEN_RECONCILE_SECS", value)?,
            None => file.reconcile_secs.unwrap_or(60),
        };
        let console_autostart = match env("LIMEN_CONSOLE_AUTOSTART") {
            Some(value) => parse("LIMEN_CONSOLE_AUTOSTART", value)?,
            None => file.console_autostart.unwrap_or(true),
        };
        let iso_upload_max_mb = match env("LIMEN_ISO_UPLOAD_MAX_MB") {
            Some(value) => parse("LIMEN_ISO_UPLOAD_MAX_MB", value)?,
            None => file.iso_upload_max_mb.unwrap_or(16 * 1024),
        };
        let image_copy_mb_per_s = match env("LIMEN_IMAGE_COPY_MB_PER_S") {
            Some(value) => parse("LIMEN_IMAGE_COPY_MB_PER_S", value)?,
            None => file.image_copy_mb_per_s.unwrap_or(0),
        };
        let max_snapshots_per_vm = match env("LIMEN_MAX_SNAPSHOTS_PER_VM") {
            Some(value) => parse("LIMEN_MAX_SNAPSHOTS_PER_VM", value)?,
            None => file.max_snapshots_per_vm.unwrap_or(20),
        };
        let snapshot_sweep_secs = match env("LIMEN_SNAPSHOT_SWEEP_SECS") {
            Some(value) => parse("LIMEN_SNAPSHOT_SWEEP_SECS", value)?,
            None => file.snapshot_sweep_secs.unwrap_or(10),
        };
        let stats_secs = match env("LIMEN_STATS_SECS") {
            Some(value) => parse("LIMEN_STATS_SECS", value)?,
            None => file.stats_secs.unwrap_or(5),
        };
        if stats_secs > 3_600 {
            return Err(ConfigError::Invalid {
                name: "LIMEN_STATS_SECS",
                value: stats_secs.to_string(),
                reason: "expected 0 (no statistics) to 3600 seconds".into(),
            });
        }
        let stats_retention_days = match env("LIMEN_STATS_RETENTION_DAYS") {
            Some(value) => parse("LIMEN_STATS_RETENTION_DAYS", value)?,
            None => file.stats_retention_days.unwrap_or(30),
        };
        if !(1..=3_660).contains(&stats_retention_days) {
            return Err(ConfigError::Invalid {
                name: "LIMEN_STATS_RETENTION_DAYS",
                value: stats_retention_days.to_string(),
                reason: "expected 1 to 3660 days".into(),
            });
        }
        let metrics_token = env("LIMEN_METRICS_TOKEN")
            .or(file.metrics_token)
            .filter(|token| !token.is_empty());
        if metrics_token.as_ref().is_some_and(|token| token.len() < 16) {
            return Err(ConfigError::Invalid {
                name: "LIMEN_METRICS_TOKEN",
                value: "(hidden)".into(),
                reason: "expected at least 16 characters".into(),
            });
        }
        let ssh_keyfile = env("LIMEN_SSH_KEYFILE")
            .map(PathBuf::from)
            .or(file.ssh_keyfile)
            .filter(|path| !path.as_os_str().is_empty());
        let session_hours = match env("LIMEN_SESSION_HOURS") {
            Some(value) => parse("LIMEN_SESSION_HOURS", value)?,
            None => file.session_hours.unwrap_or(168),
        };
        if session_hours == 0 || session_hours > 24 * 366 {
            return Err(ConfigError::Invalid {
                name: "LIMEN_SESSION_HOURS",
                value: session_hours.to_string(),
                reason: "expected 1 to 8784 hours".into(),
            });
        }
        let secure_cookie = match env("LIMEN_SECURE_COOKIE") {
            Some(value) => parse("LIMEN_SECURE_COOKIE", value)?,
            None => file.secure_cookie.unwrap_or(false),
        };
        let public_url = env("LIMEN_PUBLIC_URL").or(file.public_url);
        if let Some(url) = &public_url {
            let valid = (url.starts_with("http://") || url.starts_with("https://"))
                && !url
                    .trim_end_matches('/')
                    .split_once("://")
                    .is_some_and(|(_, rest)| rest.is_empty() || rest.contains('/'));
            if !valid {
                return Err(ConfigError::Invalid {
                    name: "LIMEN_PUBLIC_URL",
                    value: url.clone(),
                    reason: "expected scheme://host[:port], e.g. https://limen.home.lan".into(),
                });
            }
        }
        let proxies: Vec<String> = match env("LIMEN_TRUSTED_PROXIES") {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            None => file.trusted_proxies.unwrap_or_default(),
        };
        let trusted_proxies = proxies
            .into_iter()
            .map(|proxy| parse("LIMEN_TRUSTED_PROXIES", proxy))
            .collect::<Result<Vec<_>, _>>()?;
        let tls_cert = env("LIMEN_TLS_CERT").map(PathBuf::from).or(file.tls_cert);
        let tls_key = env("LIMEN_TLS_KEY").map(PathBuf::from).or(file.tls_key);
        let tls = match env("LIMEN_TLS").or(file.tls).as_deref().unwrap_or("off") {
            "off" => TlsSetting::Off,
            "self-signed" => TlsSetting::SelfSigned,
            "files" => match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => TlsSetting::Files { cert, key },
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "LIMEN_TLS",
                        value: "files".into(),
                        reason: "needs both LIMEN_TLS_CERT and LIMEN_TLS_KEY (PEM files)".into(),
                    })
                }
            },
            other => {
                return Err(ConfigError::Invalid {
                    name: "LIMEN_TLS",
                    value: other.into(),
                    reason: "expected off, self-signed or files".into(),
                })
            }
        };
        let log_format = env("LIMEN_LOG_FORMAT")
            .or(file.log_format)
            .unwrap_or_else(|| "text".into());
        Ok(Self {
            listen: parse("LIMEN_LISTEN", listen)?,
            tls,
            log_format: parse("LIMEN_LOG_FORMAT", log_format)?,
            session_hours,
            secure_cookie,
            public_url,
            trusted_proxies,
            database_url,
            libvirt_uri: env("LIMEN_LIBVIRT_URI")
                .or(file.libvirt_uri)
                .unwrap_or_else(|| "qemu:///system".into()),
            domain_type: parse("LIMEN_DOMAIN_TYPE", domain_type)?,
            data_dir: env("LIMEN_DATA_DIR")
                .map(PathBuf::from)
                .or(file.data_dir)
                .unwrap_or_else(|| "/var/lib/limen".into()),
            reconcile_secs,
            console_autostart,
            iso_upload_max_mb,
            image_copy_mb_per_s,
            max_snapshots_per_vm,
            snapshot_sweep_secs,
            stats_secs,
            stats_retention_days,
            metrics_token,
            ssh_keyfile,
            site_root: env("LIMEN_SITE_ROOT")
                .map(PathBuf::from)
                .or(file.site_root)
                .unwrap_or_else(default_site_root),
            failpoint: env("LIMEN_FAILPOINT"),
            file: file_path,
        })
    }
}

impl Config {
    /// Whether browsers reach Limen over HTTPS (directly, or through a proxy named by
    /// `public_url`): the session cookie is then `Secure` whatever `secure_cookie` says.
    pub fn cookies_secure(&self) -> bool {
        self.secure_cookie
            || self.tls != TlsSetting::Off
            || self
                .public_url
                .as_deref()
                .is_some_and(|url| url.starts_with("https://"))
    }
}

/// cargo-leptos puts the binary in `target/<profile>/limen` and the assets in `target/site`.
fn default_site_root() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("site")))
        .filter(|site| site.join("pkg").is_dir())
        .unwrap_or_else(|| "/usr/share/limen/site".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn env_wins_over_the_file() {
        let dir = std::env::temp_dir().join(format!("limen-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("limen.toml");
        std::fs::write(
            &file,
            "database_url = \"postgres://file/db\"\ndata_dir = \"/srv/limen\"\ndomain_type = \"kvm\"\n",
        )
        .unwrap();
        let config = Config::load_from(
            Some(&file),
            env_of(&[
                ("LIMEN_DOMAIN_TYPE", "qemu"),
                ("LIMEN_LISTEN", "127.0.0.1:9"),
            ]),
        )
        .unwrap();
        assert_eq!(config.database_url, "postgres://file/db");
        assert_eq!(config.data_dir, PathBuf::from("/srv/limen"));
        assert_eq!(config.domain_type, DomainTypeSetting::Qemu);
        assert_eq!(config.listen.port(), 9);
        assert_eq!(config.libvirt_uri, "qemu:///system");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_values_are_named() {
        let err = Config::load_from(
            Some(Path::new("/nonexistent-limen.toml")),
            env_of(&[("LIMEN_DATABASE_URL", "postgres://x")]),
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }));
        let err = Config::load_from(
            None,
            env_of(&[
                ("LIMEN_DATABASE_URL", "postgres://x"),
                ("LIMEN_DOMAIN_TYPE", "xen"),
                ("LIMEN_CONFIG", "/dev/null"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("LIMEN_DOMAIN_TYPE"), "{err}");
    }

    #[test]
    fn the_shipped_example_is_a_valid_config() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/limen.toml.example");
        let config = Config::load_from(Some(&example), env_of(&[])).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/limen"));
        assert_eq!(config.domain_type, DomainTypeSetting::Auto);
        assert_eq!(config.site_root, PathBuf::from("/usr/share/limen/site"));
    }

    #[test]
    fn a_database_is_required() {
        let err = Config::load_from(None, env_of(&[("LIMEN_CONFIG", "/dev/null")])).unwrap_err();
        assert!(matches!(err, ConfigError::NoDatabase));
    }
}
