//! The tenants this instance serves, each with its loaded bot: the definition, the trained
//! intent model and the compiled reply templates. Bots whose definition lives in a folder are
//! reloaded when the file changes; the new model is trained off the request path and swapped in
//! whole, so traffic never waits for training and never sees half a bot.

use anyhow::Context as _;
use minijinja::{Environment, UndefinedBehavior};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;
use switchboard_core::{BotSpec, TenantId};
use switchboard_nlu::IntentModel;
use switchboard_nlu::entities::Entities;
use switchboard_store::Store;
use switchboard_store::TenantRecord;

/// The demo bot, built in so that `switchboard serve` works from any directory.
pub const DEMO_BOT: &str = include_str!("../../../../examples/demo-bot/bot.toml");

pub struct TenantBot {
    pub id: TenantId,
    pub name: String,
    pub spec: BotSpec,
    pub model: IntentModel,
    pub entities: Entities,
    /// The forms' slot patterns, compiled.
    pub forms: crate::engine::forms::Patterns,
    pub templates: Environment<'static>,
    /// The definition's text, to tell whether a file on disk changed.
    pub source: String,
}

/// The template key of an intent's `ask` texts. `:` cannot occur in an intent name.
pub fn ask_key(intent: &str) -> String {
    format!("ask:{intent}")
}

/// Template key of the handoff message (not an intent name: intents cannot start with `@`).
pub const HANDOFF_KEY: &str = "@handoff";

/// Name of the template for the `i`th response of `intent` in `lang` (`fallback` for the fallback).
pub fn template_name(intent: &str, lang: &str, i: usize) -> String {
    format!("{intent}/{lang}/{i}")
}

/// Where a trained model of `source` is cached under `dir`: named by a hash of the definition,
/// so an edited bot never loads a stale model.
pub fn model_path(dir: &Path, tenant: &TenantId, source: &str) -> PathBuf {
    let digest = Sha256::new()
        .chain_update(switchboard_nlu::MODEL_VERSION.to_le_bytes())
        .chain_update(source)
        .finalize();
    dir.join(format!("{tenant}-{}.model", hex::encode(&digest[..8])))
}

impl TenantBot {
    /// Validates and compiles a bot definition and trains its model. Template syntax errors
    /// are caught here; a template using an undefined variable fails when rendered (strict mode).
    pub fn build(id: TenantId, name: String, source: &str) -> anyhow::Result<TenantBot> {
        Self::build_cached(id, name, source, None)
    }

    /// Like [`TenantBot::build`], loading the trained model from `cache` when it holds one for
    /// this exact definition, and saving it there after training otherwise.
    pub fn build_cached(id: TenantId, name: String, source: &str, cache: Option<&Path>) -> anyhow::Result<TenantBot> {
        let spec = BotSpec::from_toml(source)?;
        let mut templates = Environment::new();
        templates.set_undefined_behavior(UndefinedBehavior::Strict);
        let mut add = |name: String, src: &str| {
            templates
                .add_template_owned(name.clone(), src.to_owned())
                .with_context(|| format!("template {name} in the bot definition"))
        };
        let responses = spec.intents.iter().map(|i| (i.name.clone(), &i.responses));
        let asks = spec.intents.iter().map(|i| (ask_key(&i.name), &i.ask));
        let forms = spec.forms.iter().flat_map(|f| f.texts());
        for (key, texts) in responses
            .chain(asks)
            .chain(forms)
            .chain(std::iter::once(("fallback".to_owned(), &spec.fallback)))
            .chain(std::iter::once((HANDOFF_KEY.to_owned(), &spec.handoff)))
            .chain(crate::engine::assessment::text::templates(&spec))
        {
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for (lang, text) in texts.iter(&spec.default_language) {
                let n = counts.entry(lang).or_default();
                add(template_name(&key, lang, *n), text)?;
                *n += 1;
            }
        }
        let entities = Entities::for_bot(&spec).context("the bot definition's entities")?;
        let forms = crate::engine::forms::Patterns::compile(&spec).context("the bot definition's forms")?;
        let model = match cache {
            Some(dir) => cached_model(dir, &id, &spec, source),
            None => IntentModel::train(&spec),
        };
        Ok(TenantBot {
            id,
            name,
            spec,
            model,
            entities,
            forms,
            templates,
            source: source.to_owned(),
        })
    }
}

/// A cache that cannot be read or written costs a retraining, never the bot.
fn cached_model(dir: &Path, id: &TenantId, spec: &BotSpec, source: &str) -> IntentModel {
    let path = model_path(dir, id, source);
    if let Ok(bytes) = std::fs::read(&path) {
        match IntentModel::from_bytes(&bytes) {
            Ok(model) => return model,
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cached model unusable; retraining"),
        }
    }
    let started = Instant::now();
    let model = IntentModel::train(spec);
    tracing::info!(tenant = %id, ms = started.elapsed().as_millis() as u64, "trained the intent model");
    let write = std::fs::create_dir_all(dir).and_then(|_| {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, model.to_bytes())?;
        std::fs::rename(&tmp, &path)
    });
    match write {
        Ok(()) => remove_stale_models(dir, id, &path),
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot cache the trained model"),
    }
    model
}

/// Deletes the tenant's models for earlier definitions: only the current one is ever loaded.
fn remove_stale_models(dir: &Path, id: &TenantId, current: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let prefix = format!("{id}-");
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        // `<tenant>-<16 hex>.model`: not another tenant whose id starts with this one's.
        let ours = rest
            .strip_suffix(".model")
            .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        if ours && entry.path() != current {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[derive(Default)]
pub struct Tenants {
    bots: RwLock<HashMap<TenantId, Arc<TenantBot>>>,
    /// Bots loaded from a folder, watched for changes: tenant -> (folder, display name).
    dirs: RwLock<HashMap<TenantId, (PathBuf, String)>>,
    /// Where trained models are cached; none in tests that build bots by hand.
    models: Option<PathBuf>,
    /// The last definition text that failed to load, per tenant, so it is reported once.
    rejected: RwLock<HashMap<TenantId, String>>,
}

impl Tenants {
    pub fn new(models: Option<PathBuf>) -> Tenants {
        Tenants {
            models,
            ..Tenants::default()
        }
    }

    pub fn get(&self, id: &TenantId) -> Option<Arc<TenantBot>> {
        self.bots.read().ok()?.get(id).cloned()
    }

    /// Loads a tenant's bot and records the tenant in the store.
    pub async fn install(&self, store: &dyn Store, id: &str, name: &str, source: &str) -> anyhow::Result<()> {
        let id = TenantId::parse(id)?;
        let (bot_id, bot_name, src, cache) = (id.clone(), name.to_owned(), source.to_owned(), self.models.clone());
        // Training takes up to seconds for a large bot: off the async threads.
        let bot =
            tokio::task::spawn_blocking(move || TenantBot::build_cached(bot_id, bot_name, &src, cache.as_deref()))
                .await
                .context("training the bot")?
                .with_context(|| format!("loading the bot of tenant {id}"))?;
        store
            .upsert_tenant(&TenantRecord {
                id: id.clone(),
                name: name.to_owned(),
                bot_source: source.to_owned(),
                created_at: 0,
                updated_at: 0,
            })
            .await
            .with_context(|| format!("saving tenant {id}"))?;
        if let Ok(mut bots) = self.bots.write() {
            bots.insert(id, Arc::new(bot));
        }
        Ok(())
    }

    /// Loads `<dir>/bot.toml` and watches it for changes (see [`Tenants::reload_changed`]).
    pub async fn install_dir(&self, store: &dyn Store, id: &str, name: &str, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join(BotSpec::FILE_NAME);
        let source = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        self.install(store, id, name, &source).await?;
        if let (Ok(mut dirs), Ok(tenant)) = (self.dirs.write(), TenantId::parse(id)) {
            dirs.insert(tenant, (dir.to_owned(), name.to_owned()));
        }
        Ok(())
    }

    /// Reinstalls every watched bot whose definition file changed. A definition that does not
    /// load leaves the running bot in place and is reported once.
    /// Stops watching a tenant's folder: a version activated over the API runs until the next
    /// start (which loads the folder again), not until the folder's file is next read.
    pub fn unwatch(&self, tenant: &TenantId) {
        if let Ok(mut d) = self.dirs.write() {
            d.remove(tenant);
        }
    }

    pub async fn reload_changed(&self, store: &dyn Store) {
        let watched: Vec<(TenantId, PathBuf, String)> = match self.dirs.read() {
            Ok(d) => d
                .iter()
                .map(|(t, (dir, name))| (t.clone(), dir.clone(), name.clone()))
                .collect(),
            Err(_) => return,
        };
        for (tenant, dir, name) in watched {
            let path = dir.join(BotSpec::FILE_NAME);
            let Ok(source) = std::fs::read_to_string(&path) else {
                continue;
            };
            let unchanged = self.get(&tenant).is_some_and(|b| b.source == source);
            let known_bad = self.rejected.read().is_ok_and(|r| r.get(&tenant) == Some(&source));
            if unchanged || known_bad {
                continue;
            }
            let started = Instant::now();
            match self.install(store, tenant.as_str(), &name, &source).await {
                Ok(()) => {
                    tracing::info!(tenant = %tenant, ms = started.elapsed().as_millis() as u64, "bot reloaded");
                    ::metrics::counter!(crate::runtime::metrics::BOT_RELOADS, "tenant" => tenant.to_string(), "result" => "ok")
                        .increment(1);
                }
                Err(e) => {
                    tracing::error!(tenant = %tenant, path = %path.display(), error = format!("{e:#}"), "the changed bot does not load; keeping the running one");
                    ::metrics::counter!(crate::runtime::metrics::BOT_RELOADS, "tenant" => tenant.to_string(), "result" => "invalid")
                        .increment(1);
                    if let Ok(mut r) = self.rejected.write() {
                        r.insert(tenant, source);
                    }
                }
            }
        }
    }

    /// Stops serving a tenant (its data was deleted): its bot and any watched folder go.
    pub fn unload(&self, id: &TenantId) {
        if let Ok(mut bots) = self.bots.write() {
            bots.remove(id);
        }
        if let Ok(mut dirs) = self.dirs.write() {
            dirs.remove(id);
        }
    }

    pub fn ids(&self) -> Vec<TenantId> {
        self.bots
            .read()
            .map(|b| b.keys().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_bot_builds() {
        let bot = TenantBot::build(TenantId::parse("demo").expect("id"), "Demo".into(), DEMO_BOT).expect("builds");
        assert!(bot.spec.intents.len() >= 5);
        assert!(bot.templates.get_template(&template_name("greeting", "es", 0)).is_ok());
        assert!(bot.templates.get_template(&template_name("fallback", "en", 1)).is_ok());
        let mood = crate::engine::assessment::text::question_key("wellbeing", "mood");
        assert!(bot.templates.get_template(&template_name(&mood, "de", 0)).is_ok());
    }

    #[test]
    fn bad_time_zones_and_patterns_are_reported_at_load() {
        let build = |src: &str| {
            TenantBot::build(TenantId::parse("t").expect("id"), "T".into(), src)
                .err()
                .map(|e| format!("{e:#}"))
        };
        let err = build("name = \"x\"\ntimezone = \"Europe/Atlantis\"\nfallback = [\"?\"]\n").expect("fails");
        assert!(err.contains("Europe/Atlantis"), "{err}");
        let err =
            build("name = \"x\"\nfallback = [\"?\"]\n[[entity]]\nname = \"code\"\nkind = \"regex\"\npattern = \"(\"\n")
                .expect("fails");
        assert!(err.contains("\"code\""), "{err}");
    }

    #[test]
    fn template_syntax_errors_are_reported_at_load() {
        let src = "name = \"x\"\nfallback = [\"{{ oops \"]\n";
        let err = TenantBot::build(TenantId::parse("t").expect("id"), "T".into(), src)
            .err()
            .expect("fails");
        assert!(format!("{err:#}").contains("fallback/en/0"), "{err:#}");
    }
}
