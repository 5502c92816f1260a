//! Knowledge documents: reading Markdown, plain text and HTML files, their titles, and cutting
//! them into passages small enough to be a good answer on any channel.

use anyhow::Context as _;
use std::path::Path;

/// Longest passage, in characters. A passage is also the extractive answer, so it must read well
/// in an SMS-sized bubble as well as in the web chat.
pub const MAX_PASSAGE_CHARS: usize = 700;

/// File kinds a knowledge folder may hold; anything else in the folder is ignored.
pub const EXTENSIONS: &[&str] = &["md", "markdown", "txt", "html", "htm"];

#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The file name, which identifies the document inside its tenant.
    pub source: String,
    pub title: String,
    /// Given in the file name (`faq.es.md`), else detected when the index is built.
    pub language: Option<String>,
    /// Plain text, with Markdown headings kept as lines of their own.
    pub text: String,
}

pub fn is_document(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Reads one document. `name` is the file name, which decides the format and may carry a
/// language code before the extension (`returns.de.md`).
pub fn parse(name: &str, bytes: &[u8]) -> anyhow::Result<Document> {
    let raw = std::str::from_utf8(bytes).with_context(|| format!("{name} is not UTF-8 text"))?;
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    let ext = ext.to_ascii_lowercase();
    let (stem, language) = match stem.rsplit_once('.') {
        Some((s, l)) if l.len() == 2 && l.bytes().all(|b| b.is_ascii_lowercase()) => (s, Some(l.to_owned())),
        _ => (stem, None),
    };
    let fallback_title = stem.replace(['-', '_'], " ");
    let (title, text) = match ext.as_str() {
        "html" | "htm" => {
            let title = tag_text(raw, "title").or_else(|| tag_text(raw, "h1"));
            (title, html_to_text(raw))
        }
        "md" | "markdown" => {
            let title = raw
                .lines()
                .find_map(|l| l.trim().strip_prefix("# ").map(|t| t.trim().to_owned()));
            (title, raw.replace("\r\n", "\n"))
        }
        _ => (None, raw.replace("\r\n", "\n")),
    };
    Ok(Document {
        source: name.to_owned(),
        title: title.filter(|t| !t.is_empty()).unwrap_or(fallback_title),
        language,
        text,
    })
}

/// The text inside the first `<tag>…</tag>`, with inner tags removed.
fn tag_text(html: &str, tag: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let open = lower.find(&format!("<{tag}"))?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find(&format!("</{tag}"))?;
    let text = collapse(&strip_tags(&html[start..end]));
    (!text.is_empty()).then_some(text)
}

/// HTML to plain text: scripts, styles and the head dropped, block elements become paragraph
/// breaks and headings `#` lines (so the chunker treats them like Markdown), entities decoded.
/// Knowledge pages are simple; a full HTML parser would cost a dependency for no better passages.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while i < html.len() {
        let Some(lt) = lower[i..].find('<').map(|p| p + i) else {
            out.push_str(&html[i..]);
            break;
        };
        out.push_str(&html[i..lt]);
        let Some(gt) = lower[lt..].find('>').map(|p| p + lt) else {
            break;
        };
        let tag = lower[lt + 1..gt].trim_start_matches('/');
        let name: String = tag.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        let closing = lower[lt + 1..gt].starts_with('/');
        i = gt + 1;
        match name.as_str() {
            "script" | "style" | "head" | "noscript" if !closing => {
                // Skip to the matching end tag.
                let end = format!("</{name}");
                i = lower[i..].find(&end).map_or(html.len(), |p| {
                    let after = i + p;
                    lower[after..].find('>').map_or(html.len(), |q| after + q + 1)
                });
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" if !closing => out.push_str("\n\n# "),
            "p" | "div" | "section" | "article" | "ul" | "ol" | "table" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5"
            | "h6" | "blockquote" | "pre" => out.push_str("\n\n"),
            "br" | "li" => out.push('\n'),
            _ => {}
        }
    }
    decode_entities(&out)
}

fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    decode_entities(&out)
}

fn decode_entities(s: &str) -> String {
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One passage of a document: the section heading it falls under, and its text.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    pub heading: Option<String>,
    pub text: String,
}

/// Cuts a document's text into passages: a heading starts a new passage, paragraphs of one
/// section are joined while they fit in [`MAX_PASSAGE_CHARS`], and a longer paragraph is cut at
/// sentence ends (or, failing that, at spaces). A passage never mixes two sections, so its
/// heading says what it is about.
pub fn chunk(text: &str) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut heading: Option<String> = None;
    let mut current = String::new();
    let flush = |current: &mut String, heading: &Option<String>, chunks: &mut Vec<Chunk>| {
        let t = current.trim();
        if !t.is_empty() {
            chunks.push(Chunk {
                heading: heading.clone(),
                text: t.to_owned(),
            });
        }
        current.clear();
    };
    for block in paragraphs(text) {
        if let Some(h) = block.strip_prefix('#') {
            flush(&mut current, &heading, &mut chunks);
            let h = collapse(h.trim_start_matches('#'));
            heading = (!h.is_empty()).then_some(h);
            continue;
        }
        let block = collapse(&block);
        if block.is_empty() {
            continue;
        }
        for piece in split_long(&block) {
            if !current.is_empty() && current.chars().count() + 2 + piece.chars().count() > MAX_PASSAGE_CHARS {
                flush(&mut current, &heading, &mut chunks);
            }
            if !current.is_empty() {
                current.push_str("\n\n");
            }
            current.push_str(piece);
        }
    }
    flush(&mut current, &heading, &mut chunks);
    chunks
}

/// Paragraphs (separated by blank lines), with each heading line a block of its own.
fn paragraphs(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            if !current.trim().is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
            current.clear();
            if t.starts_with('#') {
                blocks.push(t.to_owned());
            }
            continue;
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(t);
    }
    if !current.trim().is_empty() {
        blocks.push(current);
    }
    blocks
}

/// Cuts a paragraph into pieces of at most [`MAX_PASSAGE_CHARS`] characters.
fn split_long(p: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = p;
    while rest.chars().count() > MAX_PASSAGE_CHARS {
        let limit = rest
            .char_indices()
            .nth(MAX_PASSAGE_CHARS)
            .map_or(rest.len(), |(i, _)| i);
        let window = &rest[..limit];
        let cut = window
            .rfind(". ")
            .or_else(|| window.rfind("? "))
            .or_else(|| window.rfind("! "))
            .map(|i| i + 1)
            .filter(|&i| i > limit / 3)
            .or_else(|| window.rfind(' ').filter(|&i| i > 0))
            .unwrap_or(limit);
        pieces.push(rest[..cut].trim());
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() {
        pieces.push(rest);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_heading_the_title_tag_or_the_file_name() {
        let md = parse("returns.md", b"Intro\n\n# Returns policy\n\nText").expect("md");
        assert_eq!((md.title.as_str(), md.language), ("Returns policy", None));
        let html = parse(
            "p.es.html",
            b"<html><head><title>Env&iacute;os &amp; plazos</title><style>x{}</style></head><body><p>Hola</p></body></html>",
        )
        .expect("html");
        assert_eq!(html.title, "Env&iacute;os & plazos");
        assert_eq!(html.language.as_deref(), Some("es"));
        assert_eq!(html.text.trim(), "Hola");
        let txt = parse("opening_hours.txt", b"We open at 9.").expect("txt");
        assert_eq!(txt.title, "opening hours");
        assert!(parse("x.md", &[0xff, 0xfe]).is_err());
    }

    #[test]
    fn passages_follow_headings_and_stay_bounded() {
        let long = "This sentence is about shipping times and costs. ".repeat(40);
        let text = format!("# Shipping\n\nShort one.\n\nAnother.\n\n## Costs\n\n{long}\n\n# Returns\n\nThirty days.");
        let chunks = chunk(&text);
        assert_eq!(chunks[0].heading.as_deref(), Some("Shipping"));
        assert_eq!(chunks[0].text, "Short one.\n\nAnother.");
        assert!(chunks.iter().all(|c| c.text.chars().count() <= MAX_PASSAGE_CHARS));
        assert!(chunks.iter().filter(|c| c.heading.as_deref() == Some("Costs")).count() >= 2);
        assert!(
            chunks[1].text.ends_with('.'),
            "cut at a sentence end: {:?}",
            chunks[1].text
        );
        assert_eq!(chunks.last().map(|c| c.text.as_str()), Some("Thirty days."));
        // A word longer than a passage is cut anyway, on a character boundary.
        let word = "é".repeat(2000);
        assert!(chunk(&word).iter().all(|c| c.text.chars().count() <= MAX_PASSAGE_CHARS));
    }

    #[test]
    fn html_blocks_become_paragraphs_and_headings() {
        let text = html_to_text(
            "<body><h2>Hours</h2><p>Open <b>9</b> to 5.</p><script>var x = '<p>';</script><ul><li>Mon</li><li>Tue</li></ul></body>",
        );
        let chunks = chunk(&text);
        assert_eq!(chunks[0].heading.as_deref(), Some("Hours"));
        assert!(chunks[0].text.starts_with("Open 9 to 5."), "{chunks:?}");
        assert!(!text.contains("var x"));
    }
}
