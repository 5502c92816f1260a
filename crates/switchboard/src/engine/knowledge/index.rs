//! The full-text index of one tenant's passages (tantivy, BM25). One text field per language,
//! each with that language's stop words and stemmer, so "shipping" finds "shipped" in English
//! and "envíos" finds "envío" in Spanish; a query searches only its own language's passages.

use super::docs::{self, Document};
use anyhow::Context as _;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};
use tantivy::{Index, IndexReader, ReloadPolicy, TantivyDocument, Term, doc};

/// Bumped when the schema or the analysis changes, so old indexes are rebuilt.
const FORMAT_VERSION: u32 = 1;

/// Languages with a stemmer, by ISO 639-1 code. Others are indexed lowercased and unstemmed.
const STEMMED: &[(&str, Language)] = &[
    ("ar", Language::Arabic),
    ("da", Language::Danish),
    ("de", Language::German),
    ("el", Language::Greek),
    ("en", Language::English),
    ("es", Language::Spanish),
    ("fi", Language::Finnish),
    ("fr", Language::French),
    ("hu", Language::Hungarian),
    ("it", Language::Italian),
    ("nl", Language::Dutch),
    ("no", Language::Norwegian),
    ("pt", Language::Portuguese),
    ("ro", Language::Romanian),
    ("ru", Language::Russian),
    ("sv", Language::Swedish),
    ("ta", Language::Tamil),
    ("tr", Language::Turkish),
];
/// The field (and analyzer) of languages without a stemmer; queries also filter on `lang`.
const OTHER: &str = "other";

/// A passage found by a search, with its BM25 score.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Passage {
    pub score: f32,
    pub title: String,
    /// The section heading the passage falls under, when the document has headings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    pub text: String,
    pub source: String,
    pub language: String,
}

/// What the index holds of one document (for `kb list`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DocumentInfo {
    pub source: String,
    pub title: String,
    pub language: String,
    pub passages: usize,
}

struct Fields {
    source: Field,
    title: Field,
    heading: Field,
    body: Field,
    lang: Field,
}

pub struct KnowledgeBase {
    /// Hash of what the index was built from: languages and every document's name and bytes.
    pub hash: String,
    pub documents: Vec<DocumentInfo>,
    pub passages: usize,
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

fn text_field(code: &str) -> String {
    format!("text_{code}")
}

fn analyzer_code(language: &str) -> &str {
    STEMMED.iter().find(|(c, _)| *c == language).map_or(OTHER, |(c, _)| c)
}

fn analyzer(code: &str) -> TextAnalyzer {
    let base = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .dynamic();
    match STEMMED.iter().find(|(c, _)| *c == code) {
        Some((_, lang)) => {
            let base = match StopWordFilter::new(*lang) {
                Some(stop) => base.filter_dynamic(stop),
                None => base,
            };
            // Folding after stemming: the stemmer knows the accents, users often leave them out.
            base.filter_dynamic(Stemmer::new(*lang))
                .filter_dynamic(AsciiFoldingFilter)
                .build()
        }
        None => base.filter_dynamic(AsciiFoldingFilter).build(),
    }
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        source: b.add_text_field("source", STRING | STORED),
        title: b.add_text_field("title", STORED),
        heading: b.add_text_field("heading", STORED),
        body: b.add_text_field("body", STORED),
        lang: b.add_text_field("lang", STRING | STORED),
    };
    for code in STEMMED.iter().map(|(c, _)| *c).chain([OTHER]) {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(&format!("kb_{code}"))
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        b.add_text_field(&text_field(code), TextOptions::default().set_indexing_options(indexing));
    }
    (b.build(), fields)
}

fn register_analyzers(index: &Index) {
    for code in STEMMED.iter().map(|(c, _)| *c).chain([OTHER]) {
        index.tokenizers().register(&format!("kb_{code}"), analyzer(code));
    }
}

/// The hash an index of these documents is named by.
pub fn content_hash(files: &[(String, Vec<u8>)], languages: &[String], default_language: &str) -> String {
    let mut h = Sha256::new();
    h.update(FORMAT_VERSION.to_le_bytes());
    h.update(default_language.as_bytes());
    for l in languages {
        h.update([0]);
        h.update(l.as_bytes());
    }
    for (name, bytes) in files {
        h.update([1]);
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    hex::encode(&h.finalize()[..8])
}

/// Passages of the parsed documents, each with its language: given by the file name, else
/// detected among the bot's languages, else the bot's default.
fn passages_of(
    documents: &[Document],
    languages: &[String],
    default_language: &str,
) -> Vec<(DocumentInfo, Vec<docs::Chunk>)> {
    documents
        .iter()
        .map(|d| {
            let language = d.language.clone().unwrap_or_else(|| {
                switchboard_nlu::detect_language(&d.text, languages)
                    .map_or_else(|| default_language.to_owned(), |g| g.language)
            });
            let chunks = docs::chunk(&d.text);
            let info = DocumentInfo {
                source: d.source.clone(),
                title: d.title.clone(),
                language,
                passages: chunks.len(),
            };
            (info, chunks)
        })
        .collect()
}

impl KnowledgeBase {
    /// Opens the index of exactly these files under `root`, building it first when it does not
    /// exist yet. Built in a temporary folder and renamed, so a reader (another process, a crash
    /// half-way) never sees a partial index.
    pub fn open_or_build(
        root: &Path,
        files: &[(String, Vec<u8>)],
        languages: &[String],
        default_language: &str,
    ) -> anyhow::Result<KnowledgeBase> {
        let hash = content_hash(files, languages, default_language);
        let documents = parse_all(files)?;
        let parts = passages_of(&documents, languages, default_language);
        let dir = root.join(format!("index-{hash}"));
        if !dir.join("meta.json").exists() {
            std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
            let tmp = root.join(format!("tmp-{hash}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&tmp);
            std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
            let (schema, _) = schema();
            let index = Index::create_in_dir(&tmp, schema)
                .with_context(|| format!("creating the index in {}", tmp.display()))?;
            write_index(&index, &parts)?;
            drop(index);
            if std::fs::rename(&tmp, &dir).is_err() {
                // Someone else (the server, the CLI) built the same index meanwhile: theirs is as good.
                let _ = std::fs::remove_dir_all(&tmp);
            }
            remove_old_indexes(root, &dir);
        }
        let index = Index::open_in_dir(&dir).with_context(|| format!("opening the index {}", dir.display()))?;
        Self::from_index(index, hash, parts)
    }

    /// An index in memory (benchmarks, tests of the ranking).
    pub fn in_memory(
        files: &[(String, Vec<u8>)],
        languages: &[String],
        default_language: &str,
    ) -> anyhow::Result<KnowledgeBase> {
        let hash = content_hash(files, languages, default_language);
        let parts = passages_of(&parse_all(files)?, languages, default_language);
        let index = Index::create_in_ram(schema().0);
        write_index(&index, &parts)?;
        Self::from_index(index, hash, parts)
    }

    fn from_index(
        index: Index,
        hash: String,
        parts: Vec<(DocumentInfo, Vec<docs::Chunk>)>,
    ) -> anyhow::Result<KnowledgeBase> {
        register_analyzers(&index);
        // An index folder never changes after it is built (a change makes a new folder), so no
        // watcher thread per tenant polling for commits.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .context("opening the index reader")?;
        let (_, fields) = schema();
        let documents: Vec<DocumentInfo> = parts.into_iter().map(|(i, _)| i).collect();
        Ok(KnowledgeBase {
            hash,
            passages: documents.iter().map(|d| d.passages).sum(),
            documents,
            index,
            reader,
            fields,
        })
    }

    /// The best `limit` passages in `language` for `query`, best first. Any text is a valid
    /// query: it is analysed like the passages, never parsed as query syntax.
    pub fn search(&self, query: &str, language: &str, limit: usize) -> anyhow::Result<Vec<Passage>> {
        let code = analyzer_code(language);
        let field = self
            .index
            .schema()
            .get_field(&text_field(code))
            .context("the index has no field for this language")?;
        let mut analyzer = analyzer(code);
        let mut stream = analyzer.token_stream(query);
        let mut terms: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        while let Some(token) = stream.next() {
            let term = Term::from_field_text(field, &token.text);
            terms.push((
                Occur::Should,
                Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
            ));
        }
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let lang = Term::from_field_text(self.fields.lang, language);
        let query = BooleanQuery::new(vec![
            (Occur::Must, Box::new(BooleanQuery::new(terms)) as Box<dyn Query>),
            (Occur::Must, Box::new(TermQuery::new(lang, IndexRecordOption::Basic))),
        ]);
        let searcher = self.reader.searcher();
        let top = searcher
            .search(&query, &TopDocs::with_limit(limit).order_by_score())
            .context("searching the knowledge index")?;
        let text =
            |d: &TantivyDocument, f: Field| d.get_first(f).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        top.into_iter()
            .map(|(score, address)| {
                let d: TantivyDocument = searcher.doc(address).context("reading a passage")?;
                let heading = text(&d, self.fields.heading);
                Ok(Passage {
                    score,
                    title: text(&d, self.fields.title),
                    heading: (!heading.is_empty()).then_some(heading),
                    text: text(&d, self.fields.body),
                    source: text(&d, self.fields.source),
                    language: text(&d, self.fields.lang),
                })
            })
            .collect()
    }
}

fn parse_all(files: &[(String, Vec<u8>)]) -> anyhow::Result<Vec<Document>> {
    files.iter().map(|(name, bytes)| docs::parse(name, bytes)).collect()
}

fn write_index(index: &Index, parts: &[(DocumentInfo, Vec<docs::Chunk>)]) -> anyhow::Result<()> {
    register_analyzers(index);
    let (_, f) = schema();
    let schema = index.schema();
    // One indexing thread with a fixed budget: there is one index per tenant, and the default
    // (a thread per core) would take memory from every other tenant's rebuild.
    let mut writer = index
        .writer_with_num_threads::<TantivyDocument>(1, 50_000_000)
        .context("opening the index writer")?;
    for (info, chunks) in parts {
        let field = schema
            .get_field(&text_field(analyzer_code(&info.language)))
            .context("the index has no field for this language")?;
        for chunk in chunks {
            // The title and heading are searchable with the text: a question often names the topic.
            let heading = chunk.heading.clone().unwrap_or_default();
            let searchable = format!("{}\n{}\n{}", info.title, heading, chunk.text);
            writer
                .add_document(doc!(
                    f.source => info.source.as_str(),
                    f.title => info.title.as_str(),
                    f.heading => heading.as_str(),
                    f.body => chunk.text.as_str(),
                    f.lang => info.language.as_str(),
                    field => searchable,
                ))
                .context("adding a passage to the index")?;
        }
    }
    writer.commit().context("committing the knowledge index")?;
    writer.wait_merging_threads().context("finishing the index merges")?;
    Ok(())
}

/// Indexes of earlier contents are dropped once the new one exists. A reader still holding one
/// keeps its open files (deleted files stay readable until closed).
fn remove_old_indexes(root: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let path: PathBuf = e.path();
        let name = e.file_name();
        if path != keep && name.to_string_lossy().starts_with("index-") {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<(String, Vec<u8>)> {
        vec![
            (
                "shipping.md".into(),
                b"# Shipping\n\nOrders are shipped within two business days. Shipping is free over 50 euros.\n\n## Tracking\n\nYou get a tracking link by email once your parcel leaves the warehouse.".to_vec(),
            ),
            (
                "returns.md".into(),
                b"# Returns\n\nYou can return any item within 30 days for a full refund.".to_vec(),
            ),
            (
                "versand.de.md".into(),
                "# Versand\n\nBestellungen werden innerhalb von zwei Werktagen versendet.".as_bytes().to_vec(),
            ),
            (
                "envios.es.md".into(),
                b"# Env\xc3\xados\n\nLos pedidos se env\xc3\xadan en dos d\xc3\xadas laborables.".to_vec(),
            ),
        ]
    }

    fn langs() -> Vec<String> {
        vec!["en".into(), "es".into(), "de".into()]
    }

    #[test]
    fn stemmed_search_finds_the_right_passage_in_its_language() {
        let kb = KnowledgeBase::in_memory(&files(), &langs(), "en").expect("index");
        assert_eq!(kb.passages, 5);
        let hits = kb.search("when will my order ship?", "en", 3).expect("search");
        assert_eq!(hits[0].title, "Shipping");
        assert!(hits[0].text.starts_with("Orders are shipped"), "{hits:?}");
        let hits = kb.search("how do I track my parcel", "en", 3).expect("search");
        assert_eq!(hits[0].heading.as_deref(), Some("Tracking"));
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        // Spanish, without the accent the document has.
        let hits = kb.search("cuando envian mi pedido", "es", 3).expect("search");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].source, "envios.es.md");
        // German, another inflection of the same stem ("versendet" / "versende").
        let hits = kb
            .search("Wann versende ich meine Bestellung?", "de", 3)
            .expect("search");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].source, "versand.de.md");
        // Nothing in French, and query syntax is just text.
        assert!(kb.search("livraison", "fr", 3).expect("search").is_empty());
        assert!(kb.search("\"(( AND: title:*", "en", 3).is_ok());
        assert!(kb.search("the of and", "en", 3).expect("stop words only").is_empty());
    }

    #[test]
    fn an_index_is_built_once_per_content_and_rebuilt_when_it_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = KnowledgeBase::open_or_build(dir.path(), &files(), &langs(), "en").expect("build");
        let again = KnowledgeBase::open_or_build(dir.path(), &files(), &langs(), "en").expect("open");
        assert_eq!(a.hash, again.hash);
        let mut changed = files();
        changed[1].1 = b"# Returns\n\nReturns are accepted within 14 days.".to_vec();
        let b = KnowledgeBase::open_or_build(dir.path(), &changed, &langs(), "en").expect("rebuild");
        assert_ne!(a.hash, b.hash);
        let hits = b.search("return an item", "en", 1).expect("search");
        assert!(hits[0].text.contains("14 days"));
        let indexes = std::fs::read_dir(dir.path()).expect("dir").count();
        assert_eq!(indexes, 1, "the old index is removed");
    }
}
