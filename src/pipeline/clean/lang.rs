//! Language identification with `whatlang` (maintained, pure Rust, no model files, 69
//! languages), run on a prefix of the cleaned text: trigram statistics settle within a few
//! hundred characters, and the prefix bounds the cost on long pages.
//!
//! A guess is only believed when whatlang's confidence reaches [`MIN_CONFIDENCE`] (or the text
//! is not in Latin script, which alone rules out English). Below it — headlines, teasers, wire
//! flashes, results tables, lists of names — the declared language is used, then the entity
//! model's language, [`MODEL_LANG`]; the guess and its confidence stay in the record. The
//! reason is the asymmetry measured in README "Language": on short English text whatlang's
//! top guess is wrong about half the time (Lithuanian, Italian, Afrikaans…) and a wrong
//! non-English call throws away every entity, while a wrong English call on a short foreign
//! headline costs little. `lingua` was measured too (README): more accurate on short foreign
//! text, but 147 MB of models for 30 languages and less accurate on short English.

/// Bytes of cleaned text the detector looks at (rounded down to a char boundary).
pub(crate) const DETECT_PREFIX_BYTES: usize = 1024;

/// Lowest whatlang confidence at which a Latin-script guess is believed. Measured (README
/// "Language"): the lowest threshold that keeps every English text of the tuning sets (UNER
/// dev sentences, prefixes of the html-extra English pages) as English as well as 0.9 does.
pub const MIN_CONFIDENCE: f64 = 0.8;

/// The language of the entity model, used when nothing better is known.
pub const MODEL_LANG: &str = "en";

/// Where a document's `lang` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LangSource {
    /// The detector, confidently (or from the script of a non-Latin text).
    Detected,
    /// The input's `lang` or the page's `<html lang>`: the detector was not confident.
    Declared,
    /// Neither: the entity model's language, [`MODEL_LANG`].
    Default,
}

impl LangSource {
    /// The name used in records: `detected`, `declared` or `default`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Detected => "detected",
            Self::Declared => "declared",
            Self::Default => "default",
        }
    }
}

/// A detected language: ISO 639-1 code, confidence in 0..=1, and whether it is Latin script.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Detected {
    pub(crate) code: &'static str,
    pub(crate) confidence: f64,
    pub(crate) latin: bool,
}

/// What the document's language is, where it came from, and the detector's guess.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decision {
    pub(crate) lang: String,
    pub(crate) source: LangSource,
    /// The detector's guess, when there was one.
    pub(crate) guess: Option<Detected>,
}

/// Detects the language of `text` from its first [`DETECT_PREFIX_BYTES`] bytes.
pub(crate) fn detect(text: &str) -> Option<Detected> {
    let mut end = text.len().min(DETECT_PREFIX_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let info = whatlang::detect(&text[..end])?;
    Some(Detected {
        code: iso639_1(info.lang().code())?,
        confidence: info.confidence(),
        latin: info.script() == whatlang::Script::Latin,
    })
}

/// Decides the language of `text` given the declared one (already normalized): a confident
/// guess wins; else the declared language; else a non-Latin guess; else [`MODEL_LANG`].
pub(crate) fn decide(text: &str, declared: Option<String>) -> Decision {
    let guess = detect(text);
    let (lang, source) = match (&guess, declared) {
        (Some(g), _) if g.confidence >= MIN_CONFIDENCE => (g.code.to_owned(), LangSource::Detected),
        (_, Some(declared)) => (declared, LangSource::Declared),
        (Some(g), None) if !g.latin => (g.code.to_owned(), LangSource::Detected),
        (_, None) => (MODEL_LANG.to_owned(), LangSource::Default),
    };
    Decision {
        lang,
        source,
        guess,
    }
}

/// Normalizes a declared language tag (`"en-US"`, `"EN"`, `"eng"`) to ISO 639-1, if it is one.
pub(crate) fn normalize_declared(tag: &str) -> Option<String> {
    let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    match primary.len() {
        2 if primary.bytes().all(|b| b.is_ascii_lowercase()) => Some(primary),
        3 => iso639_1(&primary).map(str::to_owned),
        _ => None,
    }
}

/// ISO 639-3 (whatlang's codes) to ISO 639-1. Mandarin and Iranian Persian map to their
/// macrolanguages' codes, `zh` and `fa`.
fn iso639_1(code: &str) -> Option<&'static str> {
    Some(match code {
        "afr" => "af",
        "aka" => "ak",
        "amh" => "am",
        "ara" => "ar",
        "aze" => "az",
        "bel" => "be",
        "ben" => "bn",
        "bul" => "bg",
        "cat" => "ca",
        "ces" => "cs",
        "cmn" => "zh",
        "cym" => "cy",
        "dan" => "da",
        "deu" => "de",
        "ell" => "el",
        "eng" => "en",
        "epo" => "eo",
        "est" => "et",
        "fin" => "fi",
        "fra" => "fr",
        "guj" => "gu",
        "heb" => "he",
        "hin" => "hi",
        "hrv" => "hr",
        "hun" => "hu",
        "hye" => "hy",
        "ind" => "id",
        "ita" => "it",
        "jav" => "jv",
        "jpn" => "ja",
        "kan" => "kn",
        "kat" => "ka",
        "khm" => "km",
        "kor" => "ko",
        "lat" => "la",
        "lav" => "lv",
        "lit" => "lt",
        "mal" => "ml",
        "mar" => "mr",
        "mkd" => "mk",
        "mya" => "my",
        "nep" => "ne",
        "nld" => "nl",
        "nob" => "nb",
        "ori" => "or",
        "pan" => "pa",
        "pes" => "fa",
        "pol" => "pl",
        "por" => "pt",
        "ron" => "ro",
        "rus" => "ru",
        "sin" => "si",
        "slk" => "sk",
        "slv" => "sl",
        "sna" => "sn",
        "spa" => "es",
        "srp" => "sr",
        "swe" => "sv",
        "tam" => "ta",
        "tel" => "te",
        "tgl" => "tl",
        "tha" => "th",
        "tuk" => "tk",
        "tur" => "tr",
        "ukr" => "uk",
        "urd" => "ur",
        "uzb" => "uz",
        "vie" => "vi",
        "yid" => "yi",
        "zul" => "zu",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_english_russian_korean() {
        let en = detect("The defence minister said the two countries signed a memorandum of understanding on technical cooperation.").unwrap();
        assert_eq!(en.code, "en");
        assert!(en.confidence >= MIN_CONFIDENCE && en.latin);
        let ru = detect(
            "Министр обороны заявил, что страны подписали меморандум о техническом сотрудничестве.",
        )
        .unwrap();
        assert_eq!(ru.code, "ru");
        let ko = detect("국방부 장관은 두 나라가 기술 협력에 관한 양해각서에 서명했다고 말했다.")
            .unwrap();
        assert_eq!(ko.code, "ko");
    }

    #[test]
    fn an_unsure_guess_falls_back_to_the_declared_then_the_model_language() {
        // whatlang guesses "lt" here, with confidence 0.18 (issue 18).
        let text = "Barack Obama visited Paris on Monday.";
        let alone = decide(text, None);
        assert_eq!(
            (alone.lang.as_str(), alone.source),
            ("en", LangSource::Default)
        );
        let guess = alone.guess.unwrap();
        assert!(guess.confidence < MIN_CONFIDENCE, "{guess:?}");
        let declared = decide(text, Some("fr".into()));
        assert_eq!(
            (declared.lang.as_str(), declared.source),
            ("fr", LangSource::Declared)
        );
        // A non-Latin script is not English, sure or not.
        let ru = decide("В Москве прошёл сильный снегопад", None);
        assert_eq!((ru.lang.as_str(), ru.source), ("ru", LangSource::Detected));
        let long_fr = decide(
            "Les députés ont, sans surprise, adopté à une large majorité le projet de loi sur le \
             renseignement, qui donne aux services des moyens de surveillance nouveaux.",
            Some("en".into()),
        );
        assert_eq!(
            (long_fr.lang.as_str(), long_fr.source),
            ("fr", LangSource::Detected)
        );
    }

    #[test]
    fn declared_tags_normalize_to_iso639_1() {
        assert_eq!(normalize_declared("en-US").as_deref(), Some("en"));
        assert_eq!(normalize_declared("RUS").as_deref(), Some("ru"));
        assert_eq!(normalize_declared("english"), None);
    }
}
