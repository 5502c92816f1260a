//! `switchboard nlu`: evaluate the intent classifier on a dataset, train a bot's model, and see
//! how a bot understands a message.

use crate::config::Config;
use crate::engine::tenants::{DEMO_BOT, TenantBot};
use anyhow::Context as _;
use clap::Subcommand;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use switchboard_core::{BotSpec, TenantId};
use switchboard_nlu::entities::EntityContext;
use switchboard_nlu::{EvalOptions, IntentModel, Report, detect_language, evaluate, parse_jsonl};

#[derive(Subcommand)]
pub enum NluCommand {
    /// Train on a dataset's train split, tune on its val split, report on its test split.
    Test {
        /// JSON Lines: {"text": ..., "intent": ..., "split": "train"|"val"|"test"}; intent "oos"
        /// marks out-of-scope rows.
        #[arg(long)]
        data: PathBuf,
        /// Out-of-scope recall the threshold must reach on the val split.
        #[arg(long, default_value_t = 0.85)]
        target_oos_recall: f64,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Train a bot's intent model and show what it learned.
    Train {
        /// Bot definition folder (holding bot.toml); the demo bot when absent.
        #[arg(long)]
        bot: Option<PathBuf>,
        /// Write the trained model to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show how a bot understands a message: language, intents, confidence, entities.
    Parse {
        text: String,
        /// Bot definition folder (holding bot.toml); the demo bot when absent.
        #[arg(long)]
        bot: Option<PathBuf>,
        /// The conversation's language so far.
        #[arg(long)]
        language: Option<String>,
        /// The user's time zone (IANA name) for dates and times; the bot's when absent.
        #[arg(long)]
        timezone: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(config: &Config, command: NluCommand) -> anyhow::Result<ExitCode> {
    match command {
        NluCommand::Test {
            data,
            target_oos_recall,
            json,
        } => test(&data, target_oos_recall, json),
        NluCommand::Train { bot, out } => train(config, bot.as_deref(), out.as_deref()),
        NluCommand::Parse {
            text,
            bot,
            language,
            timezone,
            json,
        } => parse(
            config,
            bot.as_deref(),
            &text,
            language.as_deref(),
            timezone.as_deref(),
            json,
        ),
    }
}

fn test(data: &Path, target_oos_recall: f64, json: bool) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&target_oos_recall),
        "--target-oos-recall must be between 0 and 1"
    );
    let src = std::fs::read_to_string(data).with_context(|| format!("reading {}", data.display()))?;
    let splits = parse_jsonl(&src).map_err(|e| anyhow::anyhow!("{}: {e}", data.display()))?;
    let started = Instant::now();
    let options = EvalOptions {
        target_oos_recall,
        ..EvalOptions::default()
    };
    let report = evaluate(&splits, &options, &mut |step| {
        eprintln!("[{:>6.1}s] {step}", started.elapsed().as_secs_f64());
    });
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print_report(&mut out, &report)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

fn print_report(out: &mut impl std::io::Write, r: &Report) -> std::io::Result<()> {
    writeln!(
        out,
        "trained on {} rows ({} intents) in {:.2} s; model {:.1} MB in memory",
        r.train_rows,
        r.intents,
        r.train_seconds,
        r.model_bytes as f64 / (1024.0 * 1024.0)
    )?;
    writeln!(out, "test rows                          {}", r.test_rows)?;
    writeln!(out, "accuracy (in-scope, no threshold)  {}", pct(r.accuracy))?;
    writeln!(out, "macro-F1                           {}", pct(r.macro_f1))?;
    if let (Some(in_scope), Some(recall)) = (r.in_scope_accuracy, r.oos_recall) {
        writeln!(out, "threshold (tuned on val)           {:.3}", r.threshold)?;
        writeln!(out, "in-scope accuracy at threshold     {}", pct(in_scope))?;
        writeln!(out, "out-of-scope recall at threshold   {}", pct(recall))?;
    }
    writeln!(out, "calibration temperature            {:.3}", r.temperature)?;
    writeln!(
        out,
        "latency per message                p50 {:.1} µs, p99 {:.1} µs",
        r.latency_us_p50, r.latency_us_p99
    )?;
    writeln!(out, "\nmost confused (expected -> predicted: count)")?;
    for c in &r.confused {
        writeln!(out, "  {} -> {}: {}", c.expected, c.predicted, c.count)?;
    }
    writeln!(
        out,
        "\nper intent, worst F1 first\n  {:<40} {:>9} {:>9} {:>9} {:>7}",
        "intent", "precision", "recall", "F1", "support"
    )?;
    for i in &r.per_intent {
        writeln!(
            out,
            "  {:<40} {:>9.3} {:>9.3} {:>9.3} {:>7}",
            i.intent, i.precision, i.recall, i.f1, i.support
        )?;
    }
    Ok(())
}

/// The bot in `dir`, or the configured demo bot (the built-in copy when its folder is absent).
fn load_bot(config: &Config, dir: Option<&Path>) -> anyhow::Result<(String, String)> {
    let dir = dir.unwrap_or(&config.demo.bot_dir);
    let path = dir.join(BotSpec::FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(src) => Ok((path.display().to_string(), src)),
        Err(_) if dir == config.demo.bot_dir => Ok(("the built-in demo bot".into(), DEMO_BOT.to_owned())),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn build(name: &str, source: &str) -> anyhow::Result<TenantBot> {
    let id = TenantId::parse("cli").context("tenant id")?;
    TenantBot::build(id, name.to_owned(), source).with_context(|| format!("loading {name}"))
}

fn train(config: &Config, dir: Option<&Path>, out: Option<&Path>) -> anyhow::Result<ExitCode> {
    let (name, source) = load_bot(config, dir)?;
    let started = Instant::now();
    let bot = build(&name, &source)?;
    let took = started.elapsed();
    let spec = &bot.spec;
    let examples: usize = spec
        .intents
        .iter()
        .map(|i| i.examples.iter(&spec.default_language).count())
        .sum();
    println!(
        "{name}: {} intents, {examples} examples, languages {}; trained in {:.1} ms; model {:.1} KB",
        spec.intents.len(),
        bot.model.languages().collect::<Vec<_>>().join(", "),
        took.as_secs_f64() * 1000.0,
        bot.model.memory_bytes() as f64 / 1024.0
    );
    if let Some(path) = out {
        let bytes = bot.model.to_bytes();
        std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        // Prove the written model loads before saying it was saved.
        IntentModel::from_bytes(&std::fs::read(path)?).with_context(|| format!("reading back {}", path.display()))?;
        println!("model written to {} ({} bytes)", path.display(), bytes.len());
    }
    Ok(ExitCode::SUCCESS)
}

fn parse(
    config: &Config,
    dir: Option<&Path>,
    text: &str,
    language: Option<&str>,
    timezone: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (name, source) = load_bot(config, dir)?;
    let bot = build(&name, &source)?;
    let spec = &bot.spec;
    let guess = detect_language(text, &spec.languages);
    let prefer = crate::engine::pipeline::preferred_language(guess.as_ref(), language, &spec.default_language);
    let started = Instant::now();
    let matches = bot.model.classify(text, Some(prefer), 3);
    let micros = started.elapsed().as_secs_f64() * 1e6;
    let language =
        crate::engine::pipeline::choose_language(guess.as_ref(), matches.first(), language, &spec.default_language);
    let zone = timezone.unwrap_or(&spec.timezone);
    let now_ms = switchboard_core::Clock::System.now_ms();
    let entity_context = EntityContext::new(now_ms, zone, &language, spec.country_code())
        .with_context(|| format!("time zone {zone}"))?;
    let entities = bot.entities.extract(text, &entity_context);
    let chosen = matches
        .first()
        .and_then(|m| spec.intent(&m.intent).map(|i| (m, spec.threshold_for(i))))
        .filter(|(m, threshold)| m.confidence >= *threshold)
        .map(|(m, _)| m.intent.clone());
    if json {
        let intents: Vec<serde_json::Value> = matches
            .iter()
            .map(|m| serde_json::json!({"intent": m.intent, "confidence": m.confidence, "language": m.language}))
            .collect();
        let value = serde_json::json!({
            "text": text,
            "language": language,
            "detected": guess.as_ref().map(|g| serde_json::json!({
                "language": g.language, "confidence": g.confidence, "reliable": g.reliable,
            })),
            "intent": chosen,
            "ranking": intents,
            "entities": entities,
            "micros": micros,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    match &guess {
        Some(g) => println!(
            "language  {language} (detected {} at {:.2}{})",
            g.language,
            g.confidence,
            if g.reliable { ", reliable" } else { ", not reliable" }
        ),
        None => println!("language  {language}"),
    }
    match &chosen {
        Some(intent) => println!("intent    {intent}"),
        None => println!("intent    none: the fallback answers"),
    }
    for m in &matches {
        let threshold = spec.intent(&m.intent).map_or(spec.threshold, |i| spec.threshold_for(i));
        println!(
            "  {:<24} {:.3}  (threshold {threshold:.2}, {} model)",
            m.intent, m.confidence, m.language
        );
    }
    for e in &entities {
        println!(
            "entity    {} {:?} = {} (bytes {}..{})",
            e.entity, e.raw, e.value, e.start, e.end
        );
    }
    println!("classified in {micros:.0} µs");
    Ok(ExitCode::SUCCESS)
}
