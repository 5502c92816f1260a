//! The application: its shared state, start-up (store, tenants, queue recovery), and `run`,
//! which serves until told to stop (the job runtime it starts is `jobs.rs`).

use crate::config::Config;
use crate::engine::tenants::{DEMO_BOT, Tenants};
use crate::runtime::hub::Hub;
use crate::runtime::metrics;
use crate::runtime::queue::Scheduler;
use crate::store_url::StoreUrl;
use anyhow::Context as _;
use metrics_exporter_prometheus::PrometheusHandle;
use std::fs::File;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use switchboard_core::Clock;
use switchboard_store::Store;
use switchboard_store::{Job, JobKind, PgOptions, PgStore, SqliteOptions, SqliteStore};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub tenants: Tenants,
    /// Each tenant's indexed knowledge documents.
    pub knowledge: crate::engine::knowledge::Knowledge,
    /// The language model for knowledge answers (when configured) and its circuit breakers.
    pub llm: crate::engine::llm::Llm,
    pub queue: Scheduler,
    pub hub: Arc<Hub>,
    /// Seals and opens connector secrets.
    pub sealer: crate::secrets::Sealer,
    pub teams_keys: crate::runtime::teams_keys::KeyCache,
    pub teams_tokens: crate::runtime::teams_keys::TokenCache,
    /// For the operator's own services (the language model of `[llm]`).
    pub http: reqwest::Client,
    /// For every request made on a tenant's behalf (platform APIs through the connector's
    /// settings, event webhooks, form actions): public addresses only unless
    /// `server.allow_private_targets`, no redirects (see `egress`).
    pub tenant_http: reqwest::Client,
    /// Paces sends per platform account and chat.
    pub pacer: crate::runtime::ratelimit::Pacer,
    /// Request limits of the management API (per client IP on login, per key or person).
    pub limiter: crate::runtime::ratelimit::Limiter,
    /// Open web chat WebSockets per client IP and end user.
    pub sockets: crate::ingress::webchat::Sockets,
    /// `server.trusted_proxies`, parsed.
    pub trusted_proxies: Vec<crate::ingress::client_ip::Net>,
    /// Which events each tenant's webhooks want, so that emitting costs nothing without them.
    pub events: crate::runtime::events::Subscriptions,
    pub clock: Clock,
    pub metrics: PrometheusHandle,
    pub started: Instant,
    pub(crate) workers: AtomicUsize,
    /// Held while serving: a second `serve` on the same data directory would process the same
    /// queue twice. Released explicitly at the end of `run`.
    lock: std::sync::Mutex<Option<File>>,
}

impl App {
    pub fn workers_running(&self) -> bool {
        self.workers.load(Ordering::Relaxed) > 0
    }
}

/// Opens the database `store.url` names (creating it and applying migrations).
pub async fn open_store(config: &Config, clock: Clock) -> anyhow::Result<Arc<dyn Store>> {
    open(config, clock, false).await
}

/// Opens the store for a server; `serving` also claims a PostgreSQL database for this server
/// alone, as the data directory's lock does for SQLite.
async fn open(config: &Config, clock: Clock, serving: bool) -> anyhow::Result<Arc<dyn Store>> {
    match config.store_url()? {
        StoreUrl::Sqlite(path) => {
            let store = SqliteStore::open(
                &path,
                SqliteOptions {
                    synchronous: config.store.synchronous,
                    clock,
                },
            )
            .with_context(|| format!("opening the database {}", path.display()))?;
            Ok(Arc::new(store))
        }
        StoreUrl::Postgres(url) => {
            let store = PgStore::connect(
                &url,
                PgOptions {
                    clock,
                    max_connections: config.store.max_connections,
                },
            )
            .await
            .with_context(|| format!("opening the database {}", crate::store_url::redact(&url)))?;
            if serving
                && !store
                    .lock_server()
                    .await
                    .context("locking the database for this server")?
            {
                anyhow::bail!(
                    "another Switchboard server is already using the database {}",
                    crate::store_url::redact(&url)
                );
            }
            Ok(Arc::new(store))
        }
    }
}

fn lock_data_dir(config: &Config) -> anyhow::Result<File> {
    let dir = &config.store.data_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("creating the data directory {}", dir.display()))?;
    let path = dir.join("switchboard.lock");
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    file.try_lock().map_err(|_| {
        anyhow::anyhow!(
            "another Switchboard server is already using the data directory {}",
            dir.display()
        )
    })?;
    Ok(file)
}

impl App {
    /// Everything but the HTTP listener: store, tenants and the recovered queue.
    pub async fn build(config: Config, clock: Clock) -> anyhow::Result<Arc<App>> {
        // A URL this build cannot open is refused before anything is created on disk.
        config.store_url()?;
        let lock = lock_data_dir(&config)?;
        let store = open(&config, clock.clone(), true).await?;
        let sealer = crate::secrets::Sealer::load(&config.store.data_dir)?;
        let tenants = Tenants::new(Some(config.store.data_dir.join("models")));
        if config.demo.enabled {
            let dir = &config.demo.bot_dir;
            if dir.join(switchboard_core::BotSpec::FILE_NAME).exists() {
                tenants
                    .install_dir(store.as_ref(), &config.demo.tenant, "Demo", dir)
                    .await?;
            } else {
                tracing::info!(dir = %dir.display(), "demo bot folder not found; using the built-in copy");
                tenants
                    .install(store.as_ref(), &config.demo.tenant, "Demo", DEMO_BOT)
                    .await?;
            }
        }
        for t in &config.tenants {
            tenants.install_dir(store.as_ref(), &t.id, &t.name, &t.bot_dir).await?;
        }
        // Tenants created over the API or the command line live only in the store.
        for t in store.list_tenants().await.context("listing tenants")? {
            if tenants.get(&t.id).is_none()
                && let Err(e) = tenants
                    .install(store.as_ref(), t.id.as_str(), &t.name, &t.bot_source)
                    .await
            {
                tracing::error!(tenant = %t.id, error = %format!("{e:#}"), "cannot load a stored tenant's bot");
            }
        }
        let knowledge = crate::engine::knowledge::Knowledge::new(&config);
        knowledge.refresh(&tenants).await;
        let llm = crate::engine::llm::Llm::new(config.llm.clone());
        let queue = Scheduler::new(clock.clone());
        let marker = config.store.data_dir.join(CLEAN_SHUTDOWN);
        let crashed = !marker.exists();
        let _ = std::fs::remove_file(&marker);
        let mut pending = Vec::new();
        loop {
            let after = pending.last().map_or(0, |j: &Job| j.id);
            let page = store.pending_jobs(after, 1000).await.context("recovering the queue")?;
            if page.is_empty() {
                break;
            }
            pending.extend(page);
        }
        if crashed {
            pending = charge_interrupted_turns(&config, store.as_ref(), &clock, pending).await?;
        }
        if !pending.is_empty() {
            tracing::info!(jobs = pending.len(), after_crash = crashed, "recovered pending jobs");
        }
        queue.push(pending);
        // Hashed now rather than at the first login with an unknown email, which would then be
        // the slow one.
        tokio::task::spawn_blocking(crate::ingress::auth::tokens::decoy_hash)
            .await
            .context("preparing the decoy password hash")?;
        let tenant_http = crate::runtime::egress::client(config.server.allow_private_targets)
            .context("building the HTTP client for tenant URLs")?;
        let teams_keys = crate::runtime::teams_keys::KeyCache::new(config.server.allow_private_targets)?;
        let trusted_proxies = crate::ingress::client_ip::parse_all(&config.server.trusted_proxies)?;
        Ok(Arc::new(App {
            config,
            store,
            tenants,
            knowledge,
            llm,
            queue,
            hub: Arc::new(Hub::default()),
            sealer,
            limiter: Default::default(),
            sockets: Default::default(),
            trusted_proxies,
            events: Default::default(),
            teams_keys,
            teams_tokens: Default::default(),
            pacer: Default::default(),
            tenant_http,
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .build()
                .context("building the HTTP client")?,
            clock,
            metrics: metrics::handle(),
            started: Instant::now(),
            workers: AtomicUsize::new(0),
            lock: std::sync::Mutex::new(Some(lock)),
        }))
    }
}

/// Written at the end of a graceful shutdown, when no turn is running; its absence at start-up
/// means the previous process died, possibly in the middle of turns.
const CLEAN_SHUTDOWN: &str = "clean-shutdown";

/// After a crash, the first pending job of each conversation lane may have been running when the
/// process died. Each counts as a failed attempt, so that a message that kills the process
/// every time it is handled ends in the dead letters instead of crashing every restart.
async fn charge_interrupted_turns(
    config: &Config,
    store: &dyn Store,
    clock: &Clock,
    pending: Vec<Job>,
) -> anyhow::Result<Vec<Job>> {
    let mut seen = std::collections::HashSet::new();
    let mut kept = Vec::with_capacity(pending.len());
    for mut job in pending {
        if !seen.insert((job.conversation.clone(), job.kind == JobKind::Deliver)) {
            kept.push(job);
            continue;
        }
        job.attempts += 1;
        let error = "the server stopped while this job may have been running";
        if crate::runtime::retry::RetryPolicy::of(config, job.kind).gives_up(&job, job.attempts, clock.now_ms()) {
            tracing::error!(job = job.id, message = %job.message, "job interrupted too often: dead letter");
            store.dead_letter_job(&job.tenant, job.id, job.attempts, error).await?;
            ::metrics::counter!(metrics::DEAD_LETTERS, "tenant" => job.tenant.to_string()).increment(1);
            continue;
        }
        store
            .retry_job(&job.tenant, job.id, job.attempts, clock.now_ms(), error)
            .await?;
        job.last_error = Some(error.to_owned());
        kept.push(job);
    }
    Ok(kept)
}

/// Serves `listener` until `shutdown` resolves, then drains: stops accepting, lets running
/// turns finish, and closes the store.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    run_with_clock(config, listener, shutdown, Clock::System).await
}

/// [`run`] on a given clock: tests move time (reminders, expiry) instead of waiting for it.
pub async fn run_with_clock(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
    clock: Clock,
) -> anyhow::Result<()> {
    let metrics_listener = match config.metrics.listen_addr()? {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening for /metrics on {addr}"))?,
        ),
        None => None,
    };
    let app = App::build(config, clock).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut metrics_server = None;
    if let Some(listener) = metrics_listener {
        tracing::info!(addr = ?listener.local_addr().ok(), "serving /metrics");
        let (router, server, mut stop) = (
            crate::ingress::http::metrics_router(app.clone()),
            app.config.server.clone(),
            stop_rx.clone(),
        );
        metrics_server = Some(tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            crate::ingress::server::serve(listener, router, &server, stopped).await;
        }));
    } else if app.config.metrics.token.is_empty() {
        tracing::info!("/metrics is not served: set metrics.listen or metrics.token to scrape it");
    }
    let mut background = crate::jobs::start_background(&app, stop_rx);
    let addr = listener.local_addr().ok();
    tracing::info!(addr = ?addr, tenants = ?app.tenants.ids(), "switchboard is serving");
    crate::ingress::server::serve(
        listener,
        crate::ingress::http::router(app.clone()),
        &app.config.server,
        shutdown,
    )
    .await;
    tracing::info!("shutting down: finishing running turns");
    let _ = stop_tx.send(true);
    if let Some(server) = metrics_server {
        let _ = server.await;
    }
    let grace = Duration::from_millis(app.config.queue.turn_timeout_ms + 1000);
    let drained = tokio::time::timeout(grace, async { while background.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("some turns did not finish in time; they will run again at the next start");
        background.abort_all();
    }
    // Open sockets would otherwise keep the application alive after the listener is gone.
    app.hub.close_all();
    crate::app::flush_store(app.store.as_ref()).await;
    app.store.close();
    if drained.is_ok() {
        let marker = app.config.store.data_dir.join(CLEAN_SHUTDOWN);
        if let Err(e) = std::fs::write(&marker, b"") {
            tracing::warn!(error = %e, "cannot record the clean shutdown");
        }
    }
    if let Ok(mut lock) = app.lock.lock() {
        lock.take();
    }
    Ok(())
}

/// Writes what the store holds in memory before a graceful stop, waiting a little at most:
/// the database may be why the process is stopping.
pub(crate) async fn flush_store(store: &dyn Store) {
    match tokio::time::timeout(Duration::from_secs(2), store.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "the store's last writes were not made"),
        Err(_) => tracing::warn!("the store's last writes were not made in time"),
    }
}
