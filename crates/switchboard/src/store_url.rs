//! Which database holds the store: `store.url` (or `--store`), parsed once at start-up into a
//! closed set so that opening a backend is one `match` (`app::open_store`).
//!
//! Parsed by hand rather than with a URL library: `sqlite://./data/x.db` is a relative path,
//! which a URL parser would split into a host `.` and a path `/data/x.db`.

use anyhow::bail;
use std::fmt;
use std::path::{Path, PathBuf};

/// The database file's name in the data directory when no URL is given.
pub const DEFAULT_DB_FILE: &str = "switchboard.db";

/// What an error shows the operator as the schemes this build can open.
pub const SUPPORTED: &str = "sqlite://<path> and postgres://<user>@<host>/<database>";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    /// The embedded database in this file, created on first use.
    Sqlite(PathBuf),
    /// A PostgreSQL server; the URL as given (it may carry a password: shown only redacted).
    Postgres(String),
}

impl StoreUrl {
    /// `url` as configured; empty means the embedded database in `data_dir`. Errors never
    /// repeat the URL's credentials.
    pub fn parse(url: &str, data_dir: &Path) -> anyhow::Result<StoreUrl> {
        let url = url.trim();
        if url.is_empty() {
            return Ok(StoreUrl::Sqlite(data_dir.join(DEFAULT_DB_FILE)));
        }
        // A malformed URL is not repeated: where its password ends cannot be told.
        let Some((scheme, rest)) = url.split_once("://") else {
            bail!("the store URL is malformed: it has no <scheme>://; this build supports {SUPPORTED}");
        };
        if !is_scheme(scheme) {
            bail!("the store URL is malformed: what comes before :// is not a scheme; this build supports {SUPPORTED}");
        }
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => {
                if rest.is_empty() {
                    bail!("the store URL {url} names no database file; expected {SUPPORTED}");
                }
                // Options would otherwise silently become part of the file name.
                if rest.contains(['?', '#']) {
                    bail!(
                        "the store URL {} has options; this build supports {SUPPORTED} without any",
                        redact(url)
                    );
                }
                Ok(StoreUrl::Sqlite(PathBuf::from(rest)))
            }
            "postgres" | "postgresql" => {
                let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
                let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
                if host.is_empty() && !rest.contains("host=") {
                    bail!(
                        "the store URL {} names no PostgreSQL host; expected {SUPPORTED}",
                        redact(url)
                    );
                }
                Ok(StoreUrl::Postgres(url.to_owned()))
            }
            other => bail!(
                "the store URL {} has the scheme {other}://, which this build does not know; it supports {SUPPORTED}",
                redact(url)
            ),
        }
    }
}

/// Safe to log: a PostgreSQL URL's password is hidden.
impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            StoreUrl::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `url` with the password of its user info replaced by `***`, for errors and `config show`.
/// Without a `://` the parts cannot be told apart, so everything before an `@` is hidden.
pub fn redact(url: &str) -> String {
    let url = &redact_query_password(url);
    let Some((scheme, rest)) = url.split_once("://") else {
        return match url.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => url.to_owned(),
        };
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_owned(),
    }
}

/// A password can also ride in the query (`?password=…`, as libpq and sqlx accept).
fn redact_query_password(url: &str) -> String {
    let Some((head, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{head}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> anyhow::Result<StoreUrl> {
        StoreUrl::parse(url, Path::new("data"))
    }

    #[test]
    fn sqlite_urls_name_a_file_relative_or_absolute_and_none_means_the_data_directory() {
        assert_eq!(parse("").ok(), Some(StoreUrl::Sqlite("data/switchboard.db".into())));
        assert_eq!(
            parse("sqlite://./data/sb.db").ok(),
            Some(StoreUrl::Sqlite("./data/sb.db".into()))
        );
        assert_eq!(
            parse("SQLite:///var/lib/switchboard/sb.db").ok(),
            Some(StoreUrl::Sqlite("/var/lib/switchboard/sb.db".into()))
        );
        assert_eq!(
            parse("sqlite:///var/lib/sb.db").map(|u| u.to_string()).ok().as_deref(),
            Some("sqlite:///var/lib/sb.db")
        );
    }

    #[test]
    fn postgres_urls_are_kept_whole_and_shown_without_their_password() {
        let url = parse("postgres://u:secret@127.0.0.1/db").expect("pg");
        assert_eq!(url, StoreUrl::Postgres("postgres://u:secret@127.0.0.1/db".into()));
        assert_eq!(url.to_string(), "postgres://u:***@127.0.0.1/db");
        let url = parse("postgresql://u@db:5432/sb?sslmode=require&password=secret").expect("pg");
        assert_eq!(
            url.to_string(),
            "postgresql://u@db:5432/sb?sslmode=require&password=***"
        );
        assert!(parse("postgres://").is_err());
        assert!(parse("postgres:///db").is_err());
    }

    #[test]
    fn other_schemes_and_malformed_urls_are_refused_without_their_password() {
        for url in [
            "postgres://u:secret@/db",
            "mysql://u:secret@h/db",
            "u:secret@h/db",
            "://u:secret@h",
            "1x://u:secret@h",
            "sqlite://",
            "sqlite://x.db?mode=ro",
        ] {
            let err = format!("{:#}", parse(url).expect_err(url));
            assert!(!err.contains("secret"), "{err}");
            assert!(err.contains(SUPPORTED), "{url}: {err}");
        }
    }

    #[test]
    fn redaction_hides_only_the_password() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("postgres://u:p@ss@h/db?x=@"), "postgres://u:***@h/db?x=@");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://./a@b.db"), "sqlite://./a@b.db");
        assert_eq!(redact("u:secret@h"), "***@h");
        assert_eq!(redact(""), "");
    }
}
