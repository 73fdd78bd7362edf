//! Main-text extraction from a whole HTML page, with its metadata.
//!
//! Extraction is `dom_smoothie` (a Rust port of Mozilla's Readability with its own candidate
//! selection), in `TextMode::Formatted`, which keeps paragraphs as blank-line-separated blocks.
//! Chosen by measurement on the ScrapingHub benchmark DEV pages (`lede eval html`): it is as
//! accurate as the trafilatura ports there and several times faster; our text rules
//! ([`super::boilerplate`]) then take out what it leaves (share lines, credits, teasers).

use dom_smoothie::{Article, Config, Readability, TextMode};

/// What the extractor found on the page.
#[derive(Debug, Default)]
pub(crate) struct Extracted {
    /// The main text, paragraphs separated by blank lines.
    pub(crate) text: String,
    pub(crate) title: Option<String>,
    pub(crate) byline: Option<String>,
    pub(crate) published_at: Option<String>,
    pub(crate) url: Option<String>,
    pub(crate) lang: Option<String>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Extracts the main text and metadata of `html`; `url` resolves relative links when absolute.
///
/// # Errors
/// A message when the page yields no article.
pub(crate) fn extract(html: &str, url: Option<&str>) -> Result<Extracted, String> {
    let config = Config {
        text_mode: TextMode::Formatted,
        ..Config::default()
    };
    let url = url.filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    let mut readability = match Readability::new(html, url, Some(config.clone())) {
        Ok(r) => r,
        Err(_) => Readability::new(html, None, Some(config)).map_err(|e| e.to_string())?,
    };
    let article: Article = readability.parse().map_err(|e| e.to_string())?;
    Ok(Extracted {
        text: article.text_content.to_string(),
        title: non_empty(Some(article.title)),
        byline: non_empty(article.byline),
        published_at: non_empty(article.published_time),
        url: non_empty(article.url),
        lang: non_empty(article.lang),
    })
}
