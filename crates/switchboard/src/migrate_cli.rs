//! `switchboard migrate --from sqlite://… --to postgres://…`: copies a whole installation from
//! SQLite into PostgreSQL (the copy itself is `switchboard_store::migrate`), draws its progress
//! on standard error and prints the verified row counts. URLs are only ever shown redacted.

use crate::config::Config;
use crate::secrets::{KEY_FILE, MASTER_KEY_ENV};
use crate::store_url::{StoreUrl, redact};
use anyhow::{Context as _, bail};
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use switchboard_store::migrate::{TABLES, TableCount, copy_sqlite_to_postgres};
use switchboard_store::{PgOptions, PgStore};

/// Connections to PostgreSQL: the copy writes one page at a time.
const CONNECTIONS: u32 = 2;
const BAR_WIDTH: usize = 30;
/// A terminal redraws no more often than this; each table's last state is always drawn.
const REDRAW_EVERY: Duration = Duration::from_millis(100);

pub async fn run(config: &Config, from: &str, to: &str) -> anyhow::Result<ExitCode> {
    let (source, target) = endpoints(from, to, &config.store.data_dir)?;
    // Before connecting: a mistyped path should not wait for the network first.
    if !source.is_file() {
        bail!("there is no SQLite database at {}", source.display());
    }
    let shown = redact(&target);
    eprintln!("copying sqlite://{} into {shown}", source.display());
    let store = PgStore::connect(
        &target,
        PgOptions {
            max_connections: CONNECTIONS,
            ..Default::default()
        },
    )
    .await
    .with_context(|| format!("opening the database {shown}"))?;
    let mut bar = Bar::new(std::io::stderr().is_terminal());
    let copied = copy_sqlite_to_postgres(&source, &store, |table, done, total| bar.show(table, done, total)).await;
    bar.interrupt();
    let counts = copied.with_context(|| format!("copying sqlite://{} into {shown}", source.display()))?;
    print!("{}", report(&counts));
    println!("{}", master_key_reminder(&config.store.data_dir));
    Ok(ExitCode::SUCCESS)
}

/// The source file and the target URL. Only SQLite to PostgreSQL is a migration this build
/// knows; anything else is refused before anything is opened.
fn endpoints(from: &str, to: &str, data_dir: &Path) -> anyhow::Result<(PathBuf, String)> {
    if from.trim().is_empty() || to.trim().is_empty() {
        bail!("name both databases: --from sqlite://<path> --to postgres://<user>@<host>/<database>");
    }
    let source = match StoreUrl::parse(from, data_dir).context("--from")? {
        StoreUrl::Sqlite(path) => path,
        other => bail!("--from must be the SQLite database to copy (sqlite://<path>), not {other}"),
    };
    let target = match StoreUrl::parse(to, data_dir).context("--to")? {
        StoreUrl::Postgres(url) => url,
        other => bail!(
            "--to must be the PostgreSQL database to copy into (postgres://<user>@<host>/<database>), not {other}"
        ),
    };
    Ok((source, target))
}

/// Progress on standard error: on a terminal one line redrawn in place per table, otherwise
/// (a log, a pipe) one line per table once it is done.
struct Bar {
    tty: bool,
    /// A terminal line drawn and not yet ended.
    open: bool,
    drawn: Option<Instant>,
    name_width: usize,
}

impl Bar {
    fn new(tty: bool) -> Bar {
        Bar {
            tty,
            open: false,
            drawn: None,
            name_width: TABLES.iter().map(|t| t.len()).max().unwrap_or(0),
        }
    }

    fn show(&mut self, table: &str, done: u64, total: u64) {
        let finished = done >= total;
        let mut err = std::io::stderr().lock();
        if !self.tty {
            if finished {
                let _ = writeln!(err, "{table:<w$}  {done}/{total} copied", w = self.name_width);
            }
            return;
        }
        if !finished && self.drawn.is_some_and(|at| at.elapsed() < REDRAW_EVERY) {
            return;
        }
        let filled = if total == 0 {
            BAR_WIDTH
        } else {
            (done.min(total) as u128 * BAR_WIDTH as u128 / total as u128) as usize
        };
        let digits = total.to_string().len();
        let _ = write!(
            err,
            "\r{table:<w$}  [{}{}]  {done:>digits$}/{total}",
            "#".repeat(filled),
            ".".repeat(BAR_WIDTH - filled),
            w = self.name_width,
        );
        if finished {
            let _ = writeln!(err);
            self.drawn = None;
        } else {
            self.drawn = Some(Instant::now());
        }
        self.open = !finished;
        let _ = err.flush();
    }

    /// Ends a line left half drawn, so that an error starts on a line of its own.
    fn interrupt(&mut self) {
        if self.open {
            eprintln!();
            self.open = false;
        }
    }
}

fn report(counts: &[TableCount]) -> String {
    let w = counts.iter().map(|c| c.table.len()).max().unwrap_or(5).max(5);
    let mut out = format!("{:<w$}  {:>10}  {:>10}\n", "table", "SQLite", "PostgreSQL");
    for c in counts {
        out.push_str(&format!("{:<w$}  {:>10}  {:>10}\n", c.table, c.source, c.target));
    }
    let rows: u64 = counts.iter().map(|c| c.source).sum();
    out.push_str(&format!(
        "verified: {} tables, {rows} rows, the same counts on both sides\n",
        counts.len()
    ));
    out
}

/// Sealed secrets travel still sealed: the new server opens them only with the old key.
fn master_key_reminder(data_dir: &Path) -> String {
    let key_file = data_dir.join(KEY_FILE);
    let key = if std::env::var_os(MASTER_KEY_ENV).is_some() {
        format!("this shell has {MASTER_KEY_ENV} set; give the new server the same value")
    } else if key_file.is_file() {
        format!(
            "it is in {}; start the new server on this data directory, or copy that file into its own \
             (or give its content as {MASTER_KEY_ENV})",
            key_file.display()
        )
    } else {
        format!(
            "{MASTER_KEY_ENV} is not set and there is no {}; the new server needs the key the old one used",
            key_file.display()
        )
    };
    format!(
        "Connector, tenant and event webhook secrets were copied still sealed, and access and chat tokens are \
         signed with a key derived from the master key, so the new server needs the same master key: {key}.\n\
         Then start it with --store (or store.url) naming the PostgreSQL database."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sqlite_to_postgres_is_accepted_and_no_password_is_shown() {
        let dir = Path::new("data");
        let (path, url) = endpoints("sqlite://./data/sb.db", "postgres://u:secret@db/sb", dir).expect("ok");
        assert_eq!(
            (path, url.as_str()),
            (PathBuf::from("./data/sb.db"), "postgres://u:secret@db/sb")
        );
        for (from, to) in [
            ("postgres://u:secret@db/a", "postgres://u:secret@db/b"),
            ("sqlite://a.db", "sqlite://b.db"),
            ("postgres://u:secret@db/a", "sqlite://b.db"),
            ("", "postgres://u:secret@db/b"),
            ("sqlite://a.db", "mysql://u:secret@db/b"),
        ] {
            let err = format!("{:#}", endpoints(from, to, dir).expect_err(from));
            assert!(!err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn the_report_lists_every_table_and_says_verified() {
        let counts = [
            TableCount {
                table: "tenants",
                source: 2,
                target: 2,
            },
            TableCount {
                table: "messages",
                source: 12000,
                target: 12000,
            },
        ];
        let text = report(&counts);
        let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(lines[0], ["table", "SQLite", "PostgreSQL"]);
        assert_eq!(lines[2], ["messages", "12000", "12000"]);
        assert!(text.contains("verified: 2 tables, 12002 rows"), "{text}");
    }
}
