//! The tenants this instance serves, each with its loaded bot: the definition, the trained
//! intent model and the compiled reply templates.

use anyhow::Context as _;
use minijinja::{Environment, UndefinedBehavior};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use switchboard_core::{BotSpec, TenantId};
use switchboard_nlu::IntentModel;
use switchboard_nlu::entities::Entities;
use switchboard_store::{Store, TenantRecord};

/// The demo bot, built in so that `switchboard serve` works from any directory.
pub const DEMO_BOT: &str = include_str!("../../../examples/demo-bot/bot.toml");

pub struct TenantBot {
    pub id: TenantId,
    pub name: String,
    pub spec: BotSpec,
    pub model: IntentModel,
    pub entities: Entities,
    pub templates: Environment<'static>,
}

/// The template key of an intent's `ask` texts. `:` cannot occur in an intent name.
pub fn ask_key(intent: &str) -> String {
    format!("ask:{intent}")
}

/// Name of the template for the `i`th response of `intent` in `lang` (`fallback` for the fallback).
pub fn template_name(intent: &str, lang: &str, i: usize) -> String {
    format!("{intent}/{lang}/{i}")
}

impl TenantBot {
    /// Validates and compiles a bot definition. Template syntax errors are caught here; a
    /// template using an undefined variable fails when rendered (strict mode).
    pub fn build(id: TenantId, name: String, source: &str) -> anyhow::Result<TenantBot> {
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
        for (key, texts) in responses
            .chain(asks)
            .chain(std::iter::once(("fallback".to_owned(), &spec.fallback)))
        {
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for (lang, text) in texts.iter(&spec.default_language) {
                let n = counts.entry(lang).or_default();
                add(template_name(&key, lang, *n), text)?;
                *n += 1;
            }
        }
        let entities = Entities::for_bot(&spec).context("the bot definition's entities")?;
        let model = IntentModel::train(&spec);
        Ok(TenantBot {
            id,
            name,
            spec,
            model,
            entities,
            templates,
        })
    }
}

#[derive(Default)]
pub struct Tenants {
    bots: RwLock<HashMap<TenantId, Arc<TenantBot>>>,
}

impl Tenants {
    pub fn get(&self, id: &TenantId) -> Option<Arc<TenantBot>> {
        self.bots.read().ok()?.get(id).cloned()
    }

    /// Loads a tenant's bot and records the tenant in the store.
    pub async fn install(&self, store: &dyn Store, id: &str, name: &str, source: &str) -> anyhow::Result<()> {
        let id = TenantId::parse(id)?;
        let bot = TenantBot::build(id.clone(), name.to_owned(), source)
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

    /// Loads `<dir>/bot.toml`.
    pub async fn install_dir(&self, store: &dyn Store, id: &str, name: &str, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join(BotSpec::FILE_NAME);
        let source = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        self.install(store, id, name, &source).await
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
