//! `switchboard kb add|list|search|bench`: a tenant's knowledge base from the command line.
//! Works on the data directory directly, like `dead-letters`; a running server picks up added
//! documents at its next reload check (`bots.reload_interval_ms`).

use super::{KnowledgeBase, Sources, added_docs_dir, docs, sources, tenant_dir};
use crate::config::Config;
use crate::engine::tenants::DEMO_BOT;
use anyhow::{Context as _, bail};
use clap::Subcommand;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use switchboard_core::BotSpec;

#[derive(Subcommand)]
pub enum KbCommand {
    /// Copy documents (.md, .txt, .html) into <data_dir>/knowledge/<tenant>/docs/ and reindex.
    /// A file with the name of an existing document replaces it.
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// The tenant's documents: file, title, language, passages.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// The best passages for a question, with their scores.
    Search {
        #[arg(long)]
        tenant: String,
        query: String,
        /// The question's language (default: detected among the bot's languages, else its default).
        #[arg(long)]
        language: Option<String>,
        #[arg(long, default_value_t = 5)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// The tenant's language model token usage per UTC day, newest first.
    Usage {
        #[arg(long)]
        tenant: String,
        /// How many days.
        #[arg(long, default_value_t = 30)]
        days: u32,
        #[arg(long)]
        json: bool,
    },
    /// Retrieval latency over a generated knowledge base (see BENCHMARKS.md).
    Bench {
        #[arg(long, default_value_t = 10_000)]
        passages: usize,
        #[arg(long, default_value_t = 2_000)]
        queries: usize,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(config: &Config, command: KbCommand) -> anyhow::Result<ExitCode> {
    match command {
        KbCommand::Add { tenant, files } => {
            let (sources, spec) = tenant_setup(config, &tenant)?;
            let dir = added_docs_dir(&config.store.data_dir, &tenant);
            // Check every file before copying any, so a bad one leaves nothing half-added.
            let mut checked = Vec::new();
            for path in &files {
                if !docs::is_document(path) {
                    bail!(
                        "{}: not a knowledge document (expected {})",
                        path.display(),
                        docs::EXTENSIONS.join(", ")
                    );
                }
                let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .with_context(|| format!("{} has no file name", path.display()))?;
                docs::parse(&name, &bytes)?;
                checked.push((name, bytes));
            }
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for (name, bytes) in &checked {
                let to = dir.join(name);
                std::fs::write(&to, bytes).with_context(|| format!("writing {}", to.display()))?;
            }
            let kb = open(config, &tenant, &sources, &spec)?;
            println!(
                "added {} document(s) to {}; tenant {tenant} now has {} documents, {} passages",
                checked.len(),
                dir.display(),
                kb.documents.len(),
                kb.passages
            );
            Ok(ExitCode::SUCCESS)
        }
        KbCommand::Usage { tenant, days, json } => {
            let tenant = switchboard_core::TenantId::parse(&tenant)?;
            // Reads the same database as a running server, as `dead-letters` does.
            let rows = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?
                .block_on(async {
                    let store = crate::app::open_store(config, switchboard_core::Clock::System).await?;
                    let rows = store.llm_usage(&tenant, days).await;
                    store.close();
                    anyhow::Ok(rows?)
                })
                .with_context(|| format!("reading the usage of tenant {tenant}"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<10} {:>8} {:>14} {:>17}",
                    "day", "requests", "prompt tokens", "completion tokens"
                );
                for r in &rows {
                    println!(
                        "{:<10} {:>8} {:>14} {:>17}",
                        r.day, r.requests, r.prompt_tokens, r.completion_tokens
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        KbCommand::List { tenant, json } => {
            let (sources, spec) = tenant_setup(config, &tenant)?;
            let kb = open(config, &tenant, &sources, &spec)?;
            for d in &kb.documents {
                if json {
                    println!("{}", serde_json::to_string(d)?);
                } else {
                    println!(
                        "{:<32} {:<3} {:>4} passages  {}",
                        d.source, d.language, d.passages, d.title
                    );
                }
            }
            if !json {
                println!("{} documents, {} passages", kb.documents.len(), kb.passages);
            }
            Ok(ExitCode::SUCCESS)
        }
        KbCommand::Search {
            tenant,
            query,
            language,
            limit,
            json,
        } => {
            let (sources, spec) = tenant_setup(config, &tenant)?;
            let kb = open(config, &tenant, &sources, &spec)?;
            let language = language.unwrap_or_else(|| {
                switchboard_nlu::detect_language(&query, &spec.languages)
                    .filter(|g| g.reliable)
                    .map_or_else(|| spec.default_language.clone(), |g| g.language)
            });
            let hits = kb.search(&query, &language, limit.clamp(1, 100))?;
            for p in &hits {
                if json {
                    println!("{}", serde_json::to_string(p)?);
                } else {
                    let heading = p.heading.as_deref().map(|h| format!(" › {h}")).unwrap_or_default();
                    println!("{:>7.3}  {}{heading}  ({})", p.score, p.title, p.source);
                    println!("         {}", p.text.replace('\n', " "));
                }
            }
            if hits.is_empty() && !json {
                println!("no passage found (language {language})");
            }
            Ok(ExitCode::SUCCESS)
        }
        KbCommand::Bench {
            passages,
            queries,
            json,
        } => bench(passages, queries, json),
    }
}

/// The tenant's document sources and its bot definition (for its languages).
fn tenant_setup(config: &Config, tenant: &str) -> anyhow::Result<(Sources, BotSpec)> {
    let Some((_, sources)) = sources(config).into_iter().find(|(t, _)| t == tenant) else {
        bail!("unknown tenant {tenant:?}: neither the demo tenant nor one of the configured [[tenants]]");
    };
    let bot_dir = if config.demo.enabled && config.demo.tenant == tenant {
        config.demo.bot_dir.clone()
    } else {
        config
            .tenants
            .iter()
            .find(|t| t.id == tenant)
            .map(|t| t.bot_dir.clone())
            .unwrap_or_default()
    };
    let spec = match BotSpec::load_dir(&bot_dir) {
        Ok((spec, _)) => spec,
        Err(_) if config.demo.enabled && config.demo.tenant == tenant => BotSpec::from_toml(DEMO_BOT)?,
        Err(e) => return Err(e).with_context(|| format!("loading the bot of tenant {tenant}")),
    };
    Ok((sources, spec))
}

fn open(config: &Config, tenant: &str, sources: &Sources, spec: &BotSpec) -> anyhow::Result<KnowledgeBase> {
    let files = sources.files()?;
    let root = tenant_dir(&config.store.data_dir, tenant);
    KnowledgeBase::open_or_build(&root, &files, &spec.languages, &spec.default_language)
        .with_context(|| format!("indexing the knowledge of tenant {tenant}"))
}

/// A generated base: words drawn from a 20,000-word vocabulary with Zipf frequencies (like real
/// text: a few words everywhere, most words rare), documents of 10 sections, each section one
/// passage of 40 to 120 words (fewer when the words are long: a passage stays under 700
/// characters). Queries are 3 to 8 words, half taken from a random passage and half drawn like
/// the text, so all find something and the common words make the search touch long posting lists.
fn bench(passages: usize, queries: usize, json: bool) -> anyhow::Result<ExitCode> {
    if passages == 0 || queries == 0 {
        bail!("--passages and --queries must be at least 1");
    }
    let mut rng = StdRng::seed_from_u64(7);
    let words = Zipf::new(20_000, &mut rng);
    let word = |rng: &mut StdRng| words.word(rng);
    let sections = 10;
    let mut files = Vec::new();
    let mut texts = Vec::new();
    for d in 0..passages.div_ceil(sections) {
        let mut doc = format!("# Document {d}\n");
        for s in 0..sections.min(passages - d * sections) {
            // 40 to 120 words, but within one passage's length, so that sections are passages.
            let n = rng.random_range(40..=120);
            let mut text = String::new();
            for _ in 0..n {
                let w = word(&mut rng);
                if text.len() + 1 + w.len() >= docs::MAX_PASSAGE_CHARS - 1 {
                    break;
                }
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(w);
            }
            doc.push_str(&format!("\n## Section {s}\n\n{text}.\n"));
            texts.push(text);
        }
        files.push((format!("doc-{d:05}.md"), doc.into_bytes()));
    }
    let languages = vec!["en".to_owned()];
    let started = Instant::now();
    // On disk, like a tenant's index (memory-mapped files), in a folder removed afterwards.
    let root = std::env::temp_dir().join(format!("switchboard-kb-bench-{}", std::process::id()));
    let built = KnowledgeBase::open_or_build(&root, &files, &languages, "en");
    let build_ms = started.elapsed().as_secs_f64() * 1000.0;
    let result = built.and_then(|kb| measure(&kb, &texts, queries, build_ms, json, &mut rng, &words));
    let _ = std::fs::remove_dir_all(&root);
    result
}

fn measure(
    kb: &KnowledgeBase,
    texts: &[String],
    queries: usize,
    build_ms: f64,
    json: bool,
    rng: &mut StdRng,
    zipf: &Zipf,
) -> anyhow::Result<ExitCode> {
    let questions: Vec<String> = (0..queries)
        .map(|_| {
            let from = &texts[rng.random_range(0..texts.len())];
            let words: Vec<&str> = from.split(' ').collect();
            let n = rng.random_range(3..=8);
            (0..n)
                .map(|i| {
                    if i % 2 == 0 {
                        words[rng.random_range(0..words.len())].to_owned()
                    } else {
                        zipf.word(rng).to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    // Warm-up: the first searches load the index's structures.
    for q in questions.iter().take(100) {
        kb.search(q, "en", 3)?;
    }
    let mut latencies = Vec::with_capacity(questions.len());
    let mut found = 0usize;
    let all = Instant::now();
    for q in &questions {
        let t = Instant::now();
        let hits = kb.search(q, "en", 3)?;
        latencies.push(t.elapsed().as_secs_f64() * 1e6);
        found += usize::from(!hits.is_empty());
    }
    let per_second = questions.len() as f64 / all.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let (p50, p99, max) = (pct(0.50), pct(0.99), latencies.last().copied().unwrap_or(0.0));
    if json {
        println!(
            "{}",
            serde_json::json!({"passages": kb.passages, "documents": kb.documents.len(), "build_ms": build_ms,
                "queries": questions.len(), "found": found, "p50_us": p50, "p99_us": p99, "max_us": max,
                "queries_per_second": per_second})
        );
    } else {
        println!(
            "{} passages in {} documents, indexed in {build_ms:.0} ms",
            kb.passages,
            kb.documents.len()
        );
        println!(
            "{} queries (top 3), {found} with a hit: p50 {p50:.0} µs, p99 {p99:.0} µs, max {max:.0} µs, {per_second:.0} queries/s on one thread",
            questions.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Made-up words drawn with Zipf frequencies (s = 1): the word of rank r has weight 1/r.
struct Zipf {
    vocabulary: Vec<String>,
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(size: usize, rng: &mut StdRng) -> Zipf {
        let vocabulary: Vec<String> = (0..size).map(|i| pseudo_word(i, rng)).collect();
        let cumulative = (1..=size)
            .scan(0.0, |acc, rank| {
                *acc += 1.0 / rank as f64;
                Some(*acc)
            })
            .collect();
        Zipf { vocabulary, cumulative }
    }

    fn word(&self, rng: &mut StdRng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.random::<f64>() * total;
        let i = self.cumulative.partition_point(|&c| c < x);
        self.vocabulary
            .get(i)
            .or(self.vocabulary.last())
            .map_or("", String::as_str)
    }
}

/// A pronounceable made-up word, unique by its index.
fn pseudo_word(i: usize, rng: &mut StdRng) -> String {
    const SYLLABLES: &[&str] = &[
        "ka", "lo", "mi", "ne", "ru", "ta", "ve", "so", "pi", "da", "ge", "hu", "zo", "fa", "bri", "sta", "mon", "ter",
    ];
    let mut w = String::new();
    for _ in 0..rng.random_range(2..=3) {
        w.push_str(SYLLABLES[rng.random_range(0..SYLLABLES.len())]);
    }
    format!("{w}{i}")
}
