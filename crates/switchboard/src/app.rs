//! The application: its shared state, start-up (store, tenants, queue recovery), the queue
//! workers, and `run`, which serves until told to stop.

use crate::config::Config;
use crate::engine::pipeline;
use crate::engine::tenants::{DEMO_BOT, Tenants};
use crate::runtime::hub::Hub;
use crate::runtime::metrics;
use crate::runtime::queue::{Finish, Scheduler, backoff_ms};
use crate::store_url::StoreUrl;
use anyhow::Context as _;
use futures_util::FutureExt;
use metrics_exporter_prometheus::PrometheusHandle;
use std::fs::File;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use switchboard_core::Clock;
use switchboard_store::Store;
use switchboard_store::{Job, JobKind, PgOptions, PgStore, SqliteOptions, SqliteStore};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

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
    workers: AtomicUsize,
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
        if RetryPolicy::of(config, job.kind).gives_up(&job, job.attempts, clock.now_ms()) {
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
    let mut background = start_background(&app, stop_rx);
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

/// The queue workers and the pollers, until `stop` turns true.
pub fn start_background(app: &Arc<App>, stop: watch::Receiver<bool>) -> JoinSet<()> {
    let mut set = JoinSet::new();
    for _ in 0..app.config.queue.workers.max(1) {
        let (app, mut stop) = (app.clone(), stop.clone());
        set.spawn(async move {
            app.workers.fetch_add(1, Ordering::Relaxed);
            loop {
                tokio::select! {
                    job = app.queue.next() => process(&app, job).await,
                    _ = stop.changed() => break,
                }
            }
            app.workers.fetch_sub(1, Ordering::Relaxed);
        });
    }
    if let Some(mut feed) = app.store.job_feed() {
        let (app, mut stop) = (app.clone(), stop.clone());
        set.spawn(async move {
            loop {
                tokio::select! {
                    job = feed.recv() => match job {
                        Some(job) => app.queue.push([job]),
                        None => break,
                    },
                    _ = stop.changed() => break,
                }
            }
        });
    }
    {
        let (app, mut stop) = (app.clone(), stop.clone());
        set.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(app.config.queue.poll_interval_ms.max(10)));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        match app.store.pending_jobs(app.queue.poll_after(), 1000).await {
                            Ok(jobs) if !jobs.is_empty() => app.queue.push(jobs),
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "polling the queue failed"),
                        }
                    }
                    _ = stop.changed() => break,
                }
            }
        });
    }
    set.spawn(crate::ingress::discord_gateway::run_all(app.clone(), stop.clone()));
    if app.config.bots.reload_interval_ms > 0 {
        let (app, mut stop) = (app.clone(), stop.clone());
        set.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(app.config.bots.reload_interval_ms));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        app.tenants.reload_changed(app.store.as_ref()).await;
                        app.knowledge.refresh(&app.tenants).await;
                    }
                    _ = stop.changed() => break,
                }
            }
        });
    }
    {
        let (app, mut stop) = (app.clone(), stop.clone());
        set.spawn(async move { crate::engine::reminders::run_loop(&app, &mut stop).await });
    }
    {
        let (app, mut stop) = (app.clone(), stop.clone());
        set.spawn(async move { crate::engine::forms::run_loop(&app, &mut stop).await });
    }
    {
        let (app, mut stop) = (app.clone(), stop.clone());
        set.spawn(async move { crate::runtime::events::run_loop(&app, &mut stop).await });
    }
    {
        let (app, mut stop) = (app.clone(), stop);
        set.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = tick.tick() => app.metrics.run_upkeep(),
                    _ = stop.changed() => break,
                }
            }
        });
    }
    set
}

/// How a kind of job is retried. Turns fail fast: a person waits for the answer, and a turn
/// that fails a few times will not get better by waiting. Deliveries wait out a platform's
/// outage, for hours if need be; their conversation's next turns do not wait for them (they
/// hold only the conversation's delivery lane, see `runtime/queue.rs`).
struct RetryPolicy {
    max_attempts: u32,
    /// Given up once a failure comes this long after the job was queued.
    max_age_ms: Option<i64>,
    backoff_base_ms: u64,
    backoff_max_ms: u64,
}

impl RetryPolicy {
    fn of(config: &Config, kind: JobKind) -> RetryPolicy {
        match kind {
            JobKind::Turn => RetryPolicy {
                max_attempts: config.queue.max_attempts,
                max_age_ms: None,
                backoff_base_ms: config.queue.backoff_base_ms,
                backoff_max_ms: config.queue.backoff_max_ms,
            },
            JobKind::Deliver => RetryPolicy {
                max_attempts: config.delivery.max_attempts,
                max_age_ms: Some(i64::try_from(config.delivery.max_age_s.saturating_mul(1000)).unwrap_or(i64::MAX)),
                backoff_base_ms: config.delivery.backoff_base_ms,
                backoff_max_ms: config.delivery.backoff_max_ms,
            },
        }
    }

    fn deadline(&self, job: &Job) -> Option<i64> {
        self.max_age_ms.map(|age| job.created_at.saturating_add(age))
    }

    /// Whether a job that has failed `attempts` times, the last at `now`, goes to the dead letters.
    fn gives_up(&self, job: &Job, attempts: u32, now: i64) -> bool {
        attempts >= self.max_attempts || self.deadline(job).is_some_and(|d| now >= d)
    }

    /// When to try again after the `attempts`th failure: the last try falls on the deadline
    /// rather than past it, so that a platform back just in time still gets the reply.
    fn retry_at(&self, job: &Job, attempts: u32, now: i64) -> i64 {
        let delay = backoff_ms(attempts, self.backoff_base_ms, self.backoff_max_ms);
        let at = now.saturating_add(delay as i64);
        self.deadline(job).map_or(at, |d| at.min(d))
    }
}

/// Runs one job's attempt and records its outcome: done, retry later, or dead letter.
async fn process(app: &Arc<App>, job: Job) {
    let timeout = Duration::from_millis(app.config.queue.turn_timeout_ms);
    let attempt = AssertUnwindSafe(async {
        match job.kind {
            JobKind::Turn => pipeline::run_turn(app, &job).await.map(|_| ()),
            JobKind::Deliver => crate::runtime::deliver::run(app, &job).await,
        }
    })
    .catch_unwind();
    let error = match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(Ok(_))) => {
            app.queue.finish(&job, Finish::Done);
            return;
        }
        Ok(Ok(Err(e))) => {
            let now = app.clock.now_ms();
            if let Some(wait) = e.downcast_ref::<crate::runtime::deliver::RetryAfter>()
                && !RetryPolicy::of(&app.config, job.kind).gives_up(&job, 0, now)
            {
                // The platform said when: no attempt is charged for being told to wait.
                let run_at = now + wait.0.max(1) as i64 * 1000;
                let error = e.to_string();
                if let Err(e) = app
                    .store
                    .retry_job(&job.tenant, job.id, job.attempts, run_at, &error)
                    .await
                {
                    tracing::error!(job = job.id, error = %e, "cannot record the retry");
                }
                app.queue.finish(
                    &job,
                    Finish::Retry {
                        run_at,
                        attempts: job.attempts,
                        error,
                    },
                );
                return;
            }
            format!("{e:#}")
        }
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            format!("the turn panicked: {what}")
        }
        Err(_) => format!("the turn took longer than {} ms", timeout.as_millis()),
    };
    // Logged, stored with the job and shown with the dead letters: a bot token that slipped
    // into an error (deliveries redact their own connector's secrets) goes no further.
    let error = crate::runtime::redact::tokens(&error);
    let attempts = job.attempts + 1;
    let tenant = &job.tenant;
    let policy = RetryPolicy::of(&app.config, job.kind);
    let now = app.clock.now_ms();
    if policy.gives_up(&job, attempts, now) {
        let kind = job.kind.as_str();
        tracing::error!(job = job.id, kind, %tenant, message = %job.message, attempts, error, "job failed for good: dead letter");
        ::metrics::counter!(metrics::DEAD_LETTERS, "tenant" => tenant.to_string()).increment(1);
        match app.store.dead_letter_job(tenant, job.id, attempts, &error).await {
            Ok(_) => {
                // A delivery's replies stay queued, to go out if the dead letter is replayed;
                // only a turn leaves someone waiting for an answer.
                if job.kind == JobKind::Turn
                    && let Ok(Some(inbound)) = app.store.message(tenant, &job.message).await
                {
                    metrics::message(tenant.as_str(), inbound.channel.as_str(), "in", "failed");
                    pipeline::deliver(app, &inbound, &[], Err(error));
                }
                app.queue.finish(&job, Finish::Done);
            }
            Err(e) => {
                tracing::error!(job = job.id, error = %e, "cannot dead-letter the job; retrying it later");
                let run_at = app.clock.now_ms() + app.config.queue.backoff_max_ms as i64;
                app.queue.finish(
                    &job,
                    Finish::Retry {
                        run_at,
                        attempts,
                        error: e.to_string(),
                    },
                );
            }
        }
        return;
    }
    let run_at = policy.retry_at(&job, attempts, now);
    let delay_ms = run_at - now;
    tracing::warn!(job = job.id, kind = job.kind.as_str(), %tenant, attempts, delay_ms, error, "job failed; retrying");
    ::metrics::counter!(metrics::RETRIES, "tenant" => tenant.to_string()).increment(1);
    if let Err(e) = app.store.retry_job(tenant, job.id, attempts, run_at, &error).await {
        tracing::error!(job = job.id, error = %e, "cannot record the retry");
    }
    app.queue.finish(
        &job,
        Finish::Retry {
            run_at,
            attempts,
            error,
        },
    );
}
