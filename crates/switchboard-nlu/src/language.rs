//! Language detection with whatlang, restricted to the languages a bot speaks.
//!
//! whatlang is small and fast but unreliable on one or two words, so callers combine its guess
//! with other evidence (the conversation's language, the language of the matched example).

use whatlang::{Detector, Lang};

#[derive(Clone, Debug, PartialEq)]
pub struct LanguageGuess {
    /// ISO 639-1 code, e.g. `en`.
    pub language: String,
    pub confidence: f32,
    /// whatlang's own reliability verdict, and at least three words.
    pub reliable: bool,
}

const CODES: &[(&str, Lang)] = &[
    ("en", Lang::Eng),
    ("es", Lang::Spa),
    ("de", Lang::Deu),
    ("fr", Lang::Fra),
    ("it", Lang::Ita),
    ("pt", Lang::Por),
    ("nl", Lang::Nld),
    ("pl", Lang::Pol),
    ("ru", Lang::Rus),
    ("tr", Lang::Tur),
    ("sv", Lang::Swe),
    ("da", Lang::Dan),
    ("fi", Lang::Fin),
    ("cs", Lang::Ces),
    ("ro", Lang::Ron),
    ("hu", Lang::Hun),
    ("uk", Lang::Ukr),
    ("el", Lang::Ell),
    ("ar", Lang::Ara),
    ("he", Lang::Heb),
    ("hi", Lang::Hin),
    ("id", Lang::Ind),
    ("vi", Lang::Vie),
    ("th", Lang::Tha),
    ("ja", Lang::Jpn),
    ("ko", Lang::Kor),
    ("zh", Lang::Cmn),
];

fn to_lang(code: &str) -> Option<Lang> {
    CODES.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
}

fn to_code(lang: Lang) -> Option<&'static str> {
    CODES.iter().find(|(_, l)| *l == lang).map(|(c, _)| *c)
}

/// Whether `code` (ISO 639-1) can be detected.
pub fn iso639_1_supported(code: &str) -> bool {
    to_lang(code).is_some()
}

/// Guess the language of `text` among `allowed` (ISO 639-1 codes). `None` when nothing can be
/// said (no letters, or fewer than two detectable languages allowed).
pub fn detect_language(text: &str, allowed: &[String]) -> Option<LanguageGuess> {
    let langs: Vec<Lang> = allowed.iter().filter_map(|c| to_lang(c)).collect();
    if langs.len() < 2 {
        return None;
    }
    let info = Detector::with_allowlist(langs).detect(text)?;
    let words = text.split_whitespace().count();
    Some(LanguageGuess {
        language: to_code(info.lang())?.to_owned(),
        confidence: info.confidence() as f32,
        reliable: info.is_reliable() && words >= 3,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn langs(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn detects_sentences_among_allowed_languages() {
        let allowed = langs(&["en", "es", "de"]);
        let cases = [
            ("Could you tell me when the store opens tomorrow morning?", "en"),
            ("¿Podrías decirme a qué hora abre la tienda mañana por la mañana?", "es"),
            ("Kannst du mir sagen, wann der Laden morgen früh öffnet?", "de"),
        ];
        for (text, want) in cases {
            let g = detect_language(text, &allowed).expect("a guess");
            assert_eq!(g.language, want, "{text}");
            assert!(g.reliable, "{text}");
        }
    }

    #[test]
    fn short_text_is_never_reliable_and_one_language_needs_no_detection() {
        let g = detect_language("hola", &langs(&["en", "es"]));
        assert!(g.is_none_or(|g| !g.reliable));
        assert_eq!(detect_language("hello there my friend", &langs(&["en"])), None);
        assert_eq!(detect_language("12345 !!!", &langs(&["en", "es"])), None);
    }
}
