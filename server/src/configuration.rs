//! The server's configuration, in three layers: the defaults written here, then a TOML file
//! (`tianjian.toml`), then environment variables named `TIANJIAN__SECTION__KEY`. The command
//! line's `--data`, `--listen` and `--web` override all three.
//!
//! Every key is optional except the token signing key, which must never have a default: a
//! server with a built-in key would accept tokens anyone can make. Secrets are redacted
//! wherever the configuration is shown (`Debug`, `tianjian config --print`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::auth::{self, AttemptLimits, KeyRing};
use crate::media;
use crate::store::Database;

/// The prefix of the environment variables that configure the server; sections and keys
/// are separated by a double underscore.
pub const ENV_PREFIX: &str = "TIANJIAN__";

/// The file looked for in the working directory when `--config` names none.
pub const DEFAULT_FILE: &str = "tianjian.toml";

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Configuration {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub storage: StorageSection,
    #[serde(default)]
    pub auth: AuthSection,
    #[serde(default)]
    pub media: MediaSection,
    #[serde(default)]
    pub log: LogSection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// The address to listen on. Behind a reverse proxy, keep it on loopback.
    pub listen: SocketAddr,
    /// The web app's build (`pwa/dist`), served from the same origin, if set.
    pub web: Option<PathBuf>,
    /// How long a shutdown waits for requests and sync sessions to finish.
    pub shutdown_grace_secs: u64,
    /// Reverse proxies in front of the server, whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            web: None,
            shutdown_grace_secs: 20,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSection {
    /// Where the database and the blobs live.
    pub data: PathBuf,
    /// The database: absent for SQLite in `data`, a path for SQLite elsewhere (relative to
    /// `data`), or a `postgres://user:password@host:port/name` URL for PostgreSQL.
    pub database: Option<Secret>,
}

impl Default for StorageSection {
    fn default() -> Self {
        StorageSection {
            data: PathBuf::from("data"),
            database: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    /// The key access tokens are signed with: at least 32 bytes. Required.
    pub secret: Option<Secret>,
    /// Keys being rotated out, still accepted for the life of an access token.
    pub previous_secrets: Vec<Secret>,
    pub access_token_secs: u64,
    /// How long a device may stay away and still refresh without signing in again.
    pub refresh_token_days: u64,
    pub invite_days: u64,
    /// Failed sign-ins allowed per account and per address in `attempt_window_secs`.
    pub attempts_per_account: u32,
    pub attempts_per_address: u32,
    pub attempt_window_secs: u64,
}

impl Default for AuthSection {
    fn default() -> Self {
        let settings = auth::Settings::default();
        AuthSection {
            secret: None,
            previous_secrets: Vec::new(),
            access_token_secs: settings.access_ttl.as_secs(),
            refresh_token_days: settings.refresh_ttl.as_secs() / DAY,
            invite_days: settings.invite_ttl.as_secs() / DAY,
            attempts_per_account: settings.attempts.per_account,
            attempts_per_address: settings.attempts.per_address,
            attempt_window_secs: settings.attempts.window.as_secs(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSection {
    /// The largest photo, recording or video accepted.
    pub max_blob_bytes: u64,
    /// What one person may hold, stored and in progress.
    pub quota_per_user_bytes: u64,
    /// Free disk space that uploads never eat into, and below which the server is not ready.
    pub disk_reserve_bytes: u64,
    /// How long an unfinished upload is kept.
    pub upload_days: u64,
    /// Where complete blobs are kept: absent for files under the data directory, or an
    /// `s3://bucket/prefix` URL for an S3-compatible bucket, reached with the standard
    /// `AWS_*` variables (keys, `AWS_ENDPOINT_URL`, `AWS_REGION`).
    pub blobs: Option<String>,
}

impl Default for MediaSection {
    fn default() -> Self {
        let settings = media::Settings::default();
        MediaSection {
            max_blob_bytes: settings.max_blob,
            quota_per_user_bytes: settings.quota_per_user,
            disk_reserve_bytes: settings.disk_reserve,
            upload_days: settings.upload_ttl.as_secs() / DAY,
            blobs: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    pub format: LogFormat,
    /// Which events to log, as `tracing` filter directives: `info`, or
    /// `info,tianjian_server::sync=debug`.
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

/// How log lines are written: for people to read, or one JSON object per line for a log
/// collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

const DAY: u64 = 24 * 3600;

/// A secret: shown as `<redacted>` wherever the configuration is printed or logged.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<redacted>")
    }
}

/// Why the configuration cannot be used. Each names the key at fault and where its value
/// came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0}: not found")]
    NoFile(PathBuf),
    #[error("{0}")]
    Invalid(String),
}

impl ConfigError {
    fn key(key: &str, why: impl std::fmt::Display) -> ConfigError {
        ConfigError::Invalid(format!("{key}: {why}"))
    }

    fn from_figment(error: figment::Error) -> ConfigError {
        let lines: Vec<String> = error
            .into_iter()
            .map(|error| {
                let key = error.path.join(".");
                // A file names itself; the environment names the variable the value was in.
                let from = error
                    .metadata
                    .as_ref()
                    .map(|m| match &m.source {
                        Some(source) => format!(" (in {source})"),
                        // Only the environment has no source.
                        None if error.path.is_empty() => format!(" (in {})", m.name),
                        None => {
                            format!(" (in {ENV_PREFIX}{})", error.path.join("__").to_uppercase())
                        }
                    })
                    .unwrap_or_default();
                let key = if key.is_empty() {
                    "configuration"
                } else {
                    &key
                };
                format!("{key}: {}{from}", error.kind)
            })
            .collect();
        ConfigError::Invalid(lines.join("; "))
    }
}

/// Where to read the file from: the one `--config` names (which must exist), or
/// `tianjian.toml` in the working directory if there is one.
#[derive(Debug, Clone)]
pub enum ConfigFile {
    Named(PathBuf),
    Default,
}

impl Configuration {
    /// Layers the defaults, the file and the process's environment, and checks every value.
    pub fn load(file: &ConfigFile) -> Result<Configuration, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Configuration::defaults()));
        match file {
            ConfigFile::Named(path) if !path.is_file() => {
                return Err(ConfigError::NoFile(path.clone()));
            }
            ConfigFile::Named(path) => figment = figment.merge(Toml::file_exact(path)),
            ConfigFile::Default => {
                if Path::new(DEFAULT_FILE).is_file() {
                    figment = figment.merge(Toml::file_exact(DEFAULT_FILE));
                }
            }
        }
        let configuration: Configuration = figment
            .merge(Env::prefixed(ENV_PREFIX).split("__"))
            .extract()
            .map_err(ConfigError::from_figment)?;
        configuration.check()?;
        Ok(configuration)
    }

    /// Everything at its default, with no signing key.
    pub fn defaults() -> Configuration {
        Configuration {
            server: ServerSection::default(),
            storage: StorageSection::default(),
            auth: AuthSection::default(),
            media: MediaSection::default(),
            log: LogSection::default(),
        }
    }

    /// The checks a type cannot make: lengths, ranges, filters.
    fn check(&self) -> Result<(), ConfigError> {
        if let Some(secret) = &self.auth.secret {
            KeyRing::new(secret.expose().as_bytes(), &[])
                .map_err(|_| ConfigError::key("auth.secret", "must be at least 32 bytes"))?;
        }
        for secret in &self.auth.previous_secrets {
            KeyRing::new(secret.expose().as_bytes(), &[]).map_err(|_| {
                ConfigError::key("auth.previous_secrets", "each must be at least 32 bytes")
            })?;
        }
        let positive = [
            ("auth.access_token_secs", self.auth.access_token_secs),
            ("auth.refresh_token_days", self.auth.refresh_token_days),
            ("auth.invite_days", self.auth.invite_days),
            ("auth.attempt_window_secs", self.auth.attempt_window_secs),
            ("media.max_blob_bytes", self.media.max_blob_bytes),
            ("media.upload_days", self.media.upload_days),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::key(key, "must be more than 0"));
            }
        }
        if self.auth.access_token_secs > 24 * 3600 {
            return Err(ConfigError::key(
                "auth.access_token_secs",
                "at most 86400: an access token cannot be revoked before it expires",
            ));
        }
        for (key, value) in [
            ("auth.attempts_per_account", self.auth.attempts_per_account),
            ("auth.attempts_per_address", self.auth.attempts_per_address),
        ] {
            if value == 0 {
                return Err(ConfigError::key(key, "must be more than 0"));
            }
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|error| ConfigError::key("log.level", error))?;
        self.blob_location()?;
        Ok(())
    }

    /// The signing keys; required to serve.
    pub fn keys(&self) -> Result<KeyRing, ConfigError> {
        let secret = self.auth.secret.as_ref().ok_or_else(|| {
            ConfigError::key(
                "auth.secret",
                format!(
                    "required: set {ENV_PREFIX}AUTH__SECRET, or `secret` under [auth] in the \
                     configuration file, to a key of at least 32 bytes"
                ),
            )
        })?;
        let previous: Vec<&[u8]> = self
            .auth
            .previous_secrets
            .iter()
            .map(|s| s.expose().as_bytes())
            .collect();
        KeyRing::new(secret.expose().as_bytes(), &previous)
            .map_err(|_| ConfigError::key("auth.secret", "must be at least 32 bytes"))
    }

    pub fn auth_settings(&self) -> auth::Settings {
        let a = &self.auth;
        auth::Settings {
            access_ttl: Duration::from_secs(a.access_token_secs),
            refresh_ttl: Duration::from_secs(a.refresh_token_days * DAY),
            invite_ttl: Duration::from_secs(a.invite_days * DAY),
            attempts: AttemptLimits {
                per_account: a.attempts_per_account,
                per_address: a.attempts_per_address,
                window: Duration::from_secs(a.attempt_window_secs),
            },
            ..auth::Settings::default()
        }
    }

    /// The database `storage` names.
    pub fn database(&self) -> Result<Database, ConfigError> {
        Database::from_setting(
            &self.storage.data,
            self.storage.database.as_ref().map(Secret::expose),
        )
        .map_err(|why| ConfigError::key("storage.database", why))
    }

    pub fn media_settings(&self) -> media::Settings {
        let m = &self.media;
        media::Settings {
            max_blob: m.max_blob_bytes,
            quota_per_user: m.quota_per_user_bytes,
            disk_reserve: m.disk_reserve_bytes,
            upload_ttl: Duration::from_secs(m.upload_days * DAY),
            // Checked when the configuration was loaded.
            blobs: self.blob_location().unwrap_or_default(),
        }
    }

    /// Where `media.blobs` says complete blobs are kept.
    pub fn blob_location(&self) -> Result<media::blobs::Location, ConfigError> {
        match self.media.blobs.as_deref() {
            None => Ok(media::blobs::Location::MediaDir),
            Some(url) => media::blobs::Location::parse(url)
                .map_err(|why| ConfigError::key("media.blobs", why)),
        }
    }

    /// The configuration as TOML, secrets redacted: what `tianjian config --print` shows.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|error| format!("# cannot show: {error}\n"))
    }
}
