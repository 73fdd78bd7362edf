//! Language identification with `whatlang` (maintained, pure Rust, no model files, 69
//! languages), run on a prefix of the cleaned text: trigram statistics settle within a few
//! hundred characters, and the prefix bounds the cost on long pages.

/// Bytes of cleaned text the detector looks at (rounded down to a char boundary).
pub(crate) const DETECT_PREFIX_BYTES: usize = 1024;

/// A detected language: ISO 639-1 code, confidence in 0..=1, and whatlang's reliability call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Detected {
    pub(crate) code: &'static str,
    pub(crate) confidence: f64,
    pub(crate) reliable: bool,
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
        reliable: info.is_reliable(),
    })
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
        assert_eq!((en.code, en.reliable), ("en", true));
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
    fn declared_tags_normalize_to_iso639_1() {
        assert_eq!(normalize_declared("en-US").as_deref(), Some("en"));
        assert_eq!(normalize_declared("RUS").as_deref(), Some("ru"));
        assert_eq!(normalize_declared("english"), None);
    }
}
