//! Numbers, ordinals, amounts with a currency and percentages, in digits ("1,500", "€10,50")
//! or words ("twenty-one", "a dozen", "veinte", "zwölf").

use super::{EntityContext, Lang, builtin, lang, standalone};
use regex::{Captures, Regex};
use serde_json::{Value, json};
use std::sync::LazyLock;
use switchboard_core::Entity;

/// Digits with `.` or `,` between them; which of the two is the decimal mark is decided by
/// [`parse_digits`]. ASCII only: `str::parse` reads nothing else.
pub(super) const DIGITS: &str = r"[0-9]+(?:[.,][0-9]+)*";

pub(super) fn find(text: &str, ctx: &EntityContext, out: &mut Vec<Entity>) {
    let lang = lang(ctx);
    amounts(text, lang, out);
    percentages(text, lang, out);
    ordinals(text, lang, out);
    for m in DIGITS_RE.find_iter(text) {
        let (mut start, end) = (m.start(), m.end());
        if !standalone(text, start, end) {
            continue;
        }
        let Some(mut value) = parse_digits(m.as_str(), lang) else {
            continue;
        };
        // A minus sign counts when it stands in front ("-5"), not between numbers ("10-20").
        if let Some(before_sign) = text[..start].strip_suffix('-')
            && !before_sign.chars().next_back().is_some_and(char::is_alphanumeric)
        {
            start -= 1;
            value = -value;
        }
        out.push(builtin("number", text, start, end, json!(value)));
    }
    for c in words(lang).find_iter(text) {
        if let Some(value) = word_value(lang, c.as_str()) {
            out.push(builtin("number", text, c.start(), c.end(), json!(value)));
        }
    }
}

static DIGITS_RE: LazyLock<Regex> = LazyLock::new(|| compile(DIGITS));

pub(super) fn compile(pattern: &str) -> Regex {
    // The built-in patterns are constants: a mistake in one fails every test.
    Regex::new(pattern).expect("built-in entity pattern")
}

/// Reads "1,500", "1.500", "1,5", "1.500,25" as the language writes numbers. When both marks
/// appear, the last one is the decimal mark; a single mark followed by anything but three
/// digits cannot group thousands, so "1,5" is 1.5 even in English; only "1,500" / "1.500" is
/// decided by the language. Malformed groupings ("1.2.3", "1,50,0") are not numbers.
pub(super) fn parse_digits(s: &str, lang: Lang) -> Option<f64> {
    let grouping = if lang == Lang::En { ',' } else { '.' };
    let decimal = match (s.rfind('.'), s.rfind(',')) {
        (None, None) => None,
        (Some(d), Some(c)) => Some(if d > c { '.' } else { ',' }),
        (Some(p), None) | (None, Some(p)) => {
            let mark = if s.as_bytes()[p] == b'.' { '.' } else { ',' };
            let single = s.matches(mark).count() == 1;
            (single && (s.len() - p - 1 != 3 || mark != grouping)).then_some(mark)
        }
    };
    let (int, frac) = match decimal {
        Some(d) => s.rsplit_once(d)?,
        None => (s, ""),
    };
    let group = match decimal {
        Some(',') => '.',
        Some(_) => ',',
        None => grouping,
    };
    let mut groups = int.split(group);
    let first = groups.next()?;
    let rest: Vec<&str> = groups.collect();
    let grouped_ok = rest.is_empty() || (first.len() <= 3 && rest.iter().all(|g| g.len() == 3));
    if !grouped_ok || !int.chars().all(|c| c.is_ascii_digit() || c == group) || frac.contains(['.', ',']) {
        return None;
    }
    let plain = format!(
        "{}.{}",
        int.replace(group, ""),
        if frac.is_empty() { "0" } else { frac }
    );
    plain.parse().ok().filter(|v: &f64| v.is_finite())
}

// ---- number words -------------------------------------------------------------------------

struct Words {
    /// 0..=19 and other single words with a value.
    small: &'static [(&'static str, f64)],
    tens: &'static [(&'static str, f64)],
    /// Words that multiply what comes before them ("two hundred"), or stand alone with an article.
    scales: &'static [(&'static str, f64)],
    articles: &'static [&'static str],
    /// Between tens and units: "twenty-one", "treinta y dos".
    joiner: &'static str,
}

#[rustfmt::skip]
const EN: Words = Words {
    small: &[
        ("zero", 0.0), ("one", 1.0), ("two", 2.0), ("three", 3.0), ("four", 4.0), ("five", 5.0),
        ("six", 6.0), ("seven", 7.0), ("eight", 8.0), ("nine", 9.0), ("ten", 10.0), ("eleven", 11.0),
        ("twelve", 12.0), ("thirteen", 13.0), ("fourteen", 14.0), ("fifteen", 15.0), ("sixteen", 16.0),
        ("seventeen", 17.0), ("eighteen", 18.0), ("nineteen", 19.0),
    ],
    tens: &[
        ("twenty", 20.0), ("thirty", 30.0), ("forty", 40.0), ("fifty", 50.0), ("sixty", 60.0),
        ("seventy", 70.0), ("eighty", 80.0), ("ninety", 90.0),
    ],
    scales: &[("hundred", 100.0), ("thousand", 1000.0), ("dozen", 12.0)],
    articles: &["a", "an", "one"],
    joiner: r"(?:-|\s+)",
};

#[rustfmt::skip]
const ES: Words = Words {
    small: &[
        ("cero", 0.0), ("uno", 1.0), ("dos", 2.0), ("tres", 3.0), ("cuatro", 4.0), ("cinco", 5.0),
        ("seis", 6.0), ("siete", 7.0), ("ocho", 8.0), ("nueve", 9.0), ("diez", 10.0), ("once", 11.0),
        ("doce", 12.0), ("trece", 13.0), ("catorce", 14.0), ("quince", 15.0), ("dieciséis", 16.0),
        ("diecisiete", 17.0), ("dieciocho", 18.0), ("diecinueve", 19.0), ("veinte", 20.0),
        ("veintiuno", 21.0), ("veintidós", 22.0), ("veintitrés", 23.0), ("veinticinco", 25.0),
        ("cien", 100.0),
    ],
    tens: &[
        ("treinta", 30.0), ("cuarenta", 40.0), ("cincuenta", 50.0), ("sesenta", 60.0),
        ("setenta", 70.0), ("ochenta", 80.0), ("noventa", 90.0),
    ],
    scales: &[("mil", 1000.0), ("docena", 12.0), ("docenas", 12.0)],
    articles: &["una", "un"],
    joiner: r"\s+y\s+",
};

#[rustfmt::skip]
const DE: Words = Words {
    small: &[
        ("null", 0.0), ("eins", 1.0), ("zwei", 2.0), ("drei", 3.0), ("vier", 4.0), ("fünf", 5.0),
        ("sechs", 6.0), ("sieben", 7.0), ("acht", 8.0), ("neun", 9.0), ("zehn", 10.0), ("elf", 11.0),
        ("zwölf", 12.0), ("dreizehn", 13.0), ("vierzehn", 14.0), ("fünfzehn", 15.0),
        ("sechzehn", 16.0), ("siebzehn", 17.0), ("achtzehn", 18.0), ("neunzehn", 19.0),
        ("zwanzig", 20.0), ("dreißig", 30.0), ("vierzig", 40.0), ("fünfzig", 50.0), ("hundert", 100.0),
    ],
    tens: &[],
    scales: &[("tausend", 1000.0), ("dutzend", 12.0)],
    articles: &["ein", "eine"],
    joiner: r"\s+",
};

fn table(lang: Lang) -> &'static Words {
    match lang {
        Lang::En => &EN,
        Lang::Es => &ES,
        Lang::De => &DE,
    }
}

fn alternation(words: &[(&str, f64)]) -> String {
    let mut w: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
    // Longest first: the regex takes the first alternative that matches.
    w.sort_by_key(|w| std::cmp::Reverse(w.len()));
    w.join("|")
}

/// The pattern of a number in words: "twenty-one", "two hundred", "a dozen", "fifteen".
pub(super) fn words_pattern(lang: Lang) -> String {
    let t = table(lang);
    let small = alternation(t.small);
    let scales = alternation(t.scales);
    let articles = t.articles.join("|");
    let base = if t.tens.is_empty() {
        format!("(?:{small})")
    } else {
        let tens = alternation(t.tens);
        let units = alternation(&t.small[1..10]);
        format!("(?:(?:{tens})(?:{}(?:{units}))?|{small})", t.joiner)
    };
    format!(r"(?:(?:{articles})\s+(?:{scales})|{base}(?:\s+(?:{scales}))?|(?:{scales}))")
}

fn words(lang: Lang) -> &'static Regex {
    static RES: LazyLock<[Regex; 3]> =
        LazyLock::new(|| [Lang::En, Lang::Es, Lang::De].map(|l| compile(&format!(r"(?i)\b{}\b", words_pattern(l)))));
    &RES[lang as usize]
}

/// The value of a phrase matched by [`words_pattern`].
pub(super) fn word_value(lang: Lang, phrase: &str) -> Option<f64> {
    let t = table(lang);
    let lookup = |w: &str, list: &[(&str, f64)]| list.iter().find(|(k, _)| *k == w).map(|(_, v)| *v);
    let lower = phrase.to_lowercase();
    let mut value: Option<f64> = None;
    for w in lower
        .split(|c: char| c.is_whitespace() || c == '-')
        .filter(|w| !w.is_empty())
    {
        if let Some(scale) = lookup(w, t.scales) {
            value = Some(value.unwrap_or(1.0) * scale);
        } else if let Some(v) = lookup(w, t.small).or_else(|| lookup(w, t.tens)) {
            value = Some(value.unwrap_or(0.0) + v);
        } else if t.articles.contains(&w) && value.is_none() {
            value = Some(1.0);
        }
    }
    value
}

// ---- ordinals -----------------------------------------------------------------------------

#[rustfmt::skip]
const ORDINAL_WORDS: &[(&str, i64)] = &[
    ("first", 1), ("second", 2), ("third", 3), ("fourth", 4), ("fifth", 5), ("sixth", 6),
    ("seventh", 7), ("eighth", 8), ("ninth", 9), ("tenth", 10), ("eleventh", 11), ("twelfth", 12),
    ("thirteenth", 13), ("fourteenth", 14), ("fifteenth", 15), ("sixteenth", 16), ("seventeenth", 17),
    ("eighteenth", 18), ("nineteenth", 19), ("twentieth", 20), ("thirtieth", 30),
];
#[rustfmt::skip]
const ORDINAL_WORDS_ES: &[(&str, i64)] = &[
    ("primero", 1), ("primera", 1), ("primer", 1), ("segundo", 2), ("segunda", 2), ("tercero", 3),
    ("tercera", 3), ("tercer", 3), ("cuarto", 4), ("cuarta", 4), ("quinto", 5), ("quinta", 5),
    ("sexto", 6), ("sexta", 6), ("séptimo", 7), ("séptima", 7), ("octavo", 8), ("octava", 8),
    ("noveno", 9), ("novena", 9), ("décimo", 10), ("décima", 10),
];
#[rustfmt::skip]
const ORDINAL_WORDS_DE: &[(&str, i64)] = &[
    ("erste", 1), ("zweite", 2), ("dritte", 3), ("vierte", 4), ("fünfte", 5), ("sechste", 6),
    ("siebte", 7), ("achte", 8), ("neunte", 9), ("zehnte", 10),
];

/// The English ordinal suffixes; Spanish writes 1º / 1ª / 1.º.
const ORDINAL_DIGITS: &str = r"(?i)\b([0-9]{1,4})(?:st|nd|rd|th)\b|\b([0-9]{1,4})\.?[ºª°]";

fn ordinal_words(lang: Lang) -> &'static [(&'static str, i64)] {
    match lang {
        Lang::En => ORDINAL_WORDS,
        Lang::Es => ORDINAL_WORDS_ES,
        Lang::De => ORDINAL_WORDS_DE,
    }
}

fn ordinals(text: &str, lang: Lang, out: &mut Vec<Entity>) {
    static DIGITS: LazyLock<Regex> = LazyLock::new(|| compile(ORDINAL_DIGITS));
    static WORDS: LazyLock<[Regex; 3]> = LazyLock::new(|| {
        [Lang::En, Lang::Es, Lang::De].map(|l| {
            let mut w: Vec<&str> = ordinal_words(l).iter().map(|(w, _)| *w).collect();
            w.sort_by_key(|w| std::cmp::Reverse(w.len()));
            // English composes "twenty-first"; German declines ("zweiten", "dritter").
            let tens = if l == Lang::En {
                r"(?:(?:twenty|thirty)[-\s]?)?"
            } else {
                ""
            };
            let ending = if l == Lang::De { "[nrsm]?" } else { "" };
            compile(&format!(r"(?i)\b{tens}(?:{}){ending}\b", w.join("|")))
        })
    });
    for c in DIGITS.captures_iter(text) {
        let (Some(m), Some(n)) = (c.get(0), c.get(1).or_else(|| c.get(2))) else {
            continue;
        };
        if let Ok(n) = n.as_str().parse::<i64>() {
            out.push(builtin("ordinal", text, m.start(), m.end(), json!(n)));
        }
    }
    for m in WORDS[lang as usize].find_iter(text) {
        let lower = m.as_str().to_lowercase();
        let tens = [("twenty", 20), ("thirty", 30)]
            .iter()
            .find(|(t, _)| lower.starts_with(t))
            .map_or(0, |(_, v)| *v);
        let unit = ordinal_words(lang)
            .iter()
            .filter(|(w, _)| lower.ends_with(w) || lower.trim_end_matches(['n', 'r', 's', 'm']).ends_with(w))
            .max_by_key(|(w, _)| w.len())
            .map(|(_, v)| *v);
        if let Some(unit) = unit {
            out.push(builtin("ordinal", text, m.start(), m.end(), json!(tens + unit)));
        }
    }
}

// ---- amounts and percentages --------------------------------------------------------------

/// Symbols, ISO codes and words, each with its ISO 4217 code.
#[rustfmt::skip]
const CURRENCIES: &[(&str, &str)] = &[
    ("us$", "USD"), ("$", "USD"), ("€", "EUR"), ("£", "GBP"), ("¥", "JPY"), ("₹", "INR"),
    ("usd", "USD"), ("eur", "EUR"), ("gbp", "GBP"), ("jpy", "JPY"), ("chf", "CHF"), ("cad", "CAD"),
    ("aud", "AUD"), ("mxn", "MXN"), ("ars", "ARS"), ("cop", "COP"), ("clp", "CLP"), ("brl", "BRL"),
    ("inr", "INR"), ("cny", "CNY"), ("sek", "SEK"), ("nok", "NOK"), ("dkk", "DKK"), ("pln", "PLN"),
    ("dollars", "USD"), ("dollar", "USD"), ("dólares", "USD"), ("dólar", "USD"), ("bucks", "USD"),
    ("euros", "EUR"), ("euro", "EUR"), ("pounds", "GBP"), ("pound", "GBP"), ("yen", "JPY"),
    ("pesos", "MXN"), ("franken", "CHF"), ("francs", "CHF"),
];

fn currency_code(s: &str) -> Option<&'static str> {
    let lower = s.to_lowercase();
    CURRENCIES.iter().find(|(k, _)| *k == lower).map(|(_, c)| *c)
}

fn amounts(text: &str, lang: Lang, out: &mut Vec<Entity>) {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        let mut names: Vec<String> = CURRENCIES.iter().map(|(k, _)| regex::escape(k)).collect();
        names.sort_by_key(|n| std::cmp::Reverse(n.len()));
        let cur = names.join("|");
        compile(&format!(
            r"(?i)(?P<pre>{cur})\s?(?P<n1>{DIGITS})|(?P<n2>{DIGITS})\s?(?P<post>{cur})"
        ))
    });
    for c in RE.captures_iter(text) {
        if let Some(e) = amount(text, lang, &c) {
            out.push(e);
        }
    }
}

fn amount(text: &str, lang: Lang, c: &Captures<'_>) -> Option<Entity> {
    let m = c.get(0)?;
    let (cur, n) = match (c.name("pre"), c.name("n1")) {
        (Some(cur), Some(n)) => (cur, n),
        _ => (c.name("post")?, c.name("n2")?),
    };
    if !standalone(text, m.start(), m.end()) {
        return None;
    }
    let value = parse_digits(n.as_str(), lang)?;
    let currency = currency_code(cur.as_str())?;
    Some(builtin(
        "amount",
        text,
        m.start(),
        m.end(),
        json!({ "value": value, "currency": currency }),
    ))
}

fn percentages(text: &str, lang: Lang, out: &mut Vec<Entity>) {
    static RE: LazyLock<Regex> = LazyLock::new(|| {
        compile(&format!(
            r"(?i)(?P<n>{DIGITS})\s?(?:%|percent\b|per\s+cent\b|pct\b|por\s+ciento\b|prozent\b)"
        ))
    });
    for c in RE.captures_iter(text) {
        let (Some(m), Some(n)) = (c.get(0), c.name("n")) else {
            continue;
        };
        let before = text[..m.start()].chars().next_back();
        if before.is_some_and(char::is_alphanumeric) {
            continue;
        }
        if let Some(v) = parse_digits(n.as_str(), lang) {
            out.push(builtin("percentage", text, m.start(), m.end(), Value::from(v)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn num(text: &str, language: &str) -> Value {
        one(text, &ctx_in("UTC", language), "number")
    }

    #[test]
    fn decimal_and_thousands_marks_follow_the_language_only_when_ambiguous() {
        assert_eq!(num("1,5", "en"), json!(1.5));
        assert_eq!(num("1.5", "en"), json!(1.5));
        assert_eq!(num("1,500", "en"), json!(1500.0));
        assert_eq!(num("1.500", "en"), json!(1.5));
        assert_eq!(num("1.500", "de"), json!(1500.0));
        assert_eq!(num("1.500", "es"), json!(1500.0));
        assert_eq!(num("1,500", "de"), json!(1.5));
        assert_eq!(num("1,5", "de"), json!(1.5));
        assert_eq!(num("1,500,000.25", "en"), json!(1_500_000.25));
        assert_eq!(num("1.500.000,25", "de"), json!(1_500_000.25));
        assert_eq!(num("12", "en"), json!(12.0));
        assert_eq!(num("I have -3 apples", "en"), json!(-3.0));
        let ctx = ctx_in("UTC", "en");
        assert!(found("1.2.3 and 10,00,000", &ctx, "number").is_empty());
        assert!(found("mp3 and 4x4", &ctx, "number").is_empty());
        assert_eq!(found("10-20", &ctx, "number").len(), 2);
    }

    #[test]
    fn numbers_in_words() {
        assert_eq!(num("one", "en"), json!(1.0));
        assert_eq!(num("twenty", "en"), json!(20.0));
        assert_eq!(num("Twenty-one", "en"), json!(21.0));
        assert_eq!(num("ninety nine", "en"), json!(99.0));
        assert_eq!(num("a dozen eggs", "en"), json!(12.0));
        assert_eq!(num("two dozen", "en"), json!(24.0));
        assert_eq!(num("three hundred", "en"), json!(300.0));
        assert_eq!(num("a hundred", "en"), json!(100.0));
        assert_eq!(num("treinta y dos", "es"), json!(32.0));
        assert_eq!(num("una docena", "es"), json!(12.0));
        assert_eq!(num("zwölf", "de"), json!(12.0));
        assert_eq!(num("ein Dutzend", "de"), json!(12.0));
        // "once" is eleven only in Spanish.
        assert!(found("once upon a time", &ctx_in("UTC", "en"), "number").is_empty());
    }

    #[test]
    fn ordinals_in_digits_and_words() {
        let ctx = ctx_in("UTC", "en");
        let ord = |t: &str| one(t, &ctx, "ordinal");
        assert_eq!(ord("1st"), json!(1));
        assert_eq!(ord("my 2nd try"), json!(2));
        assert_eq!(ord("21st"), json!(21));
        assert_eq!(ord("third"), json!(3));
        assert_eq!(ord("twenty-first"), json!(21));
        assert_eq!(ord("Twelfth"), json!(12));
        assert_eq!(one("el 3º", &ctx_in("UTC", "es"), "ordinal"), json!(3));
        assert_eq!(one("la segunda", &ctx_in("UTC", "es"), "ordinal"), json!(2));
        assert_eq!(one("der dritte", &ctx_in("UTC", "de"), "ordinal"), json!(3));
        assert_eq!(one("am zweiten", &ctx_in("UTC", "de"), "ordinal"), json!(2));
    }

    #[test]
    fn amounts_with_their_currency() {
        let amt = |t: &str, l: &str| one(t, &ctx_in("UTC", l), "amount");
        assert_eq!(amt("$5", "en"), json!({"value": 5.0, "currency": "USD"}));
        assert_eq!(amt("5 dollars", "en"), json!({"value": 5.0, "currency": "USD"}));
        assert_eq!(amt("€10,50", "en"), json!({"value": 10.5, "currency": "EUR"}));
        assert_eq!(amt("10 EUR", "en"), json!({"value": 10.0, "currency": "EUR"}));
        assert_eq!(amt("£3.20", "en"), json!({"value": 3.2, "currency": "GBP"}));
        assert_eq!(
            amt("it costs 1.299,00 €.", "de"),
            json!({"value": 1299.0, "currency": "EUR"})
        );
        assert_eq!(amt("USD 1,250", "en"), json!({"value": 1250.0, "currency": "USD"}));
        assert_eq!(amt("20 euros", "es"), json!({"value": 20.0, "currency": "EUR"}));
        let ctx = ctx_in("UTC", "en");
        assert!(found("5 europeans", &ctx, "amount").is_empty());
        // The amount swallows its number.
        assert!(found("$5", &ctx, "number").is_empty());
    }

    #[test]
    fn percentages() {
        let pct = |t: &str, l: &str| one(t, &ctx_in("UTC", l), "percentage");
        assert_eq!(pct("15%", "en"), json!(15.0));
        assert_eq!(pct("15 percent", "en"), json!(15.0));
        assert_eq!(pct("2.5 %", "en"), json!(2.5));
        assert_eq!(pct("15 por ciento", "es"), json!(15.0));
        assert_eq!(pct("7,5 Prozent", "de"), json!(7.5));
    }
}
