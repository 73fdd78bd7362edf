//! Main-text extraction from a whole HTML page, with its metadata.
//!
//! Extraction is `dom_smoothie` 0.19 (a Rust port of Mozilla's Readability with its own
//! candidate selection) in `TextMode::Formatted`, which keeps paragraphs as blank-line-separated
//! blocks. Chosen by measurement on the ScrapingHub benchmark DEV pages (`lede eval html`, the
//! benchmark's shingle metric): alone it scores F1 0.967 there, level with the trafilatura
//! ports, at a fraction of their time. Two additions take it past them: inert elements
//! (`<script>`, `<style>`, `<svg>`) are cut before parsing, which halves the parse time, and the
//! text rules ([`super::boilerplate`]) then take out what Readability leaves (captions with
//! credits, share bars, timestamps, "Related" lists, reading times, breadcrumbs). Measured on
//! DEV: F1 0.986 (P 0.976, R 0.996) at 1.7 ms/page (`cargo bench --bench clean`). The rules
//! were tuned on these DEV pages; html-extra (846 pages of other sites, `lede eval html`) and
//! the held-out split are the honest figures.
//!
//! The page's metadata is read by `meta.rs` from the same stripped page (JSON-LD is kept by
//! [`strip_inert`]), and Readability's own metadata fills what that scan left empty. When
//! Readability finds no article container, the text falls back to the JSON-LD `articleBody`,
//! then to [`largest_block`], so a page with an article is never refused for want of one.

use dom_smoothie::{Article, Config, Readability, TextMode};

use super::meta;
use crate::record::PageMeta;

/// What the extractor found on the page.
#[derive(Debug, Default)]
pub(crate) struct Extracted {
    /// The main text, paragraphs separated by blank lines.
    pub(crate) text: String,
    /// Title, authors, times, canonical URL, site name, declared language; how the text was found.
    pub(crate) page: PageMeta,
    /// The byline as Readability found it (an author line in the page).
    pub(crate) byline: Option<String>,
    /// Why the main extractor was not used, when a fallback gave the text.
    pub(crate) fallback: Option<String>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Elements whose content is never article text, dropped before parsing.
const INERT: [&str; 3] = ["script", "style", "svg"];

/// The page without `<script>`, `<style>` and `<svg>` elements, except JSON-LD scripts (the
/// extractor reads metadata from them).
///
/// On the DEV pages these elements are 63% of the bytes; Readability removes them anyway, but
/// only after html5ever has tokenized them, so dropping them first saves most of the parse.
/// An element with no closing tag is kept as it is (the parser then decides).
fn strip_inert(html: &str) -> String {
    let bytes = html.as_bytes();
    let mut out = String::with_capacity(html.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some(offset) = html[at..].find('<') {
        let open = at + offset;
        at = open + 1;
        let Some(tag) = INERT.iter().find(|tag| {
            let end = open + 1 + tag.len();
            bytes
                .get(open + 1..end)
                .is_some_and(|b| b.eq_ignore_ascii_case(tag.as_bytes()))
                && bytes
                    .get(end)
                    .is_some_and(|&c| c == b'>' || c == b'/' || c.is_ascii_whitespace())
        }) else {
            continue;
        };
        let Some(head_end) = html[open..].find('>').map(|i| open + i) else {
            break;
        };
        if *tag == "script"
            && html[open..head_end]
                .to_ascii_lowercase()
                .contains("ld+json")
        {
            continue;
        }
        let Some(close) = find_close(html, head_end, tag) else {
            break;
        };
        out.push_str(&html[copied..open]);
        copied = close;
        at = close;
    }
    out.push_str(&html[copied..]);
    out
}

/// The byte just past `</tag ...>` after `from`, matched case-insensitively.
fn find_close(html: &str, from: usize, tag: &str) -> Option<usize> {
    let bytes = html.as_bytes();
    let mut at = from;
    while let Some(offset) = html[at..].find("</") {
        let start = at + offset;
        let end = start + 2 + tag.len();
        if bytes
            .get(start + 2..end)
            .is_some_and(|b| b.eq_ignore_ascii_case(tag.as_bytes()))
        {
            return html[end..].find('>').map(|i| end + i + 1);
        }
        at = start + 2;
    }
    None
}

/// Deepest element nesting a page may have. Real pages stay far below (DEV pages: under 100);
/// the extractor's time grows quadratically with depth and its recursion overflows a thread's
/// stack somewhere past 10,000 levels, so a hostile page is refused rather than parsed.
const MAX_NESTING: usize = 1000;

/// Elements that never hold others (void) or that HTML closes implicitly (`<p>`, `<li>`, …):
/// they do not count towards nesting, so unclosed ones in real pages are harmless.
const NOT_NESTING: [&str; 30] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr", "param", "keygen", "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "rb",
    "rt", "rp", "thead", "tbody", "tfoot",
];

/// The nesting depth of `html` once it passes `limit`, or `None` if it never does. A linear
/// scan of start and end tags (comments skipped), not a parse: good enough to bound depth.
fn nesting_beyond(html: &str, limit: usize) -> Option<usize> {
    let bytes = html.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(offset) = bytes
        .get(i..)
        .and_then(|rest| rest.iter().position(|&b| b == b'<'))
    {
        i += offset + 1;
        if bytes.get(i..i + 3) == Some(b"!--") {
            match html.get(i..).and_then(|rest| rest.find("-->")) {
                Some(end) => i += end + 3,
                None => break,
            }
            continue;
        }
        let closing = bytes.get(i) == Some(&b'/');
        let name_start = if closing { i + 1 } else { i };
        let name_len = bytes.get(name_start..).map_or(0, |rest| {
            rest.iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-' || **b == b':')
                .count()
        });
        if name_len == 0 || !bytes[name_start].is_ascii_alphabetic() {
            continue;
        }
        let name = html[name_start..name_start + name_len].to_ascii_lowercase();
        if NOT_NESTING.contains(&name.as_str()) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
            continue;
        }
        let tag_end = html[name_start..].find('>').map(|e| name_start + e);
        if tag_end.is_some_and(|e| e > 0 && bytes[e - 1] == b'/') {
            continue; // <x/>
        }
        depth += 1;
        if depth > limit {
            return Some(depth);
        }
    }
    None
}

/// Fewest words a JSON-LD `articleBody` needs to stand in for the page's text.
const MIN_BODY_WORDS: usize = 50;

/// Extracts the main text and metadata of `html`; `url` resolves relative links when absolute.
///
/// Readability (`dom_smoothie`) finds the article container. When it finds none, the text is
/// the page's JSON-LD `articleBody` if it has one, else the block with the most paragraph text
/// ([`largest_block`]): a page with an article is never left without text.
///
/// # Errors
/// A message when the page yields no text at all, or nests too deep to parse safely.
pub(crate) fn extract(html: &str, url: Option<&str>) -> Result<Extracted, String> {
    let config = Config {
        text_mode: TextMode::Formatted,
        ..Config::default()
    };
    let url = url.filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    let html = strip_inert(html);
    if let Some(depth) = nesting_beyond(&html, MAX_NESTING) {
        return Err(format!(
            "the page nests elements at least {depth} deep (the limit is {MAX_NESTING}): \
             refused, since the extractor's time and stack grow with depth"
        ));
    }
    let blocks = meta::json_ld_blocks(&html);
    let mut page = meta::read(&html, &blocks);
    let body = meta::json_ld_article(&blocks)
        .and_then(|a| a.get("articleBody"))
        .and_then(serde_json::Value::as_str)
        .map(|b| html_escape::decode_html_entities(b.trim()).into_owned())
        .filter(|b| b.split_whitespace().count() >= MIN_BODY_WORDS);
    let parsed = match Readability::new(html.as_str(), url, Some(config.clone())) {
        Ok(r) => Ok(r),
        Err(_) => Readability::new(html.as_str(), None, Some(config)),
    }
    .and_then(|mut r| r.parse());
    let mut out = Extracted::default();
    let failure = match parsed {
        Ok(article) => {
            merge_readability(&mut page, &article);
            out.byline = non_empty(article.byline);
            out.text = article.text_content.to_string();
            if out.text.trim().is_empty() {
                Some("Readability found an empty article".to_owned())
            } else {
                page.extraction = Some("readability".to_owned());
                None
            }
        }
        Err(e) => Some(format!("Readability found no article ({e})")),
    };
    if let Some(why) = failure {
        if let Some(body) = body {
            out.text = body;
            page.extraction = Some("json-ld".to_owned());
            out.fallback = Some(format!("{why}; the text is the page's JSON-LD articleBody"));
        } else if let Some(text) = largest_block(&html) {
            out.text = text;
            page.extraction = Some("largest-block".to_owned());
            out.fallback = Some(format!(
                "{why}; the text is the page's block with the most paragraph text"
            ));
        } else {
            return Err(why);
        }
    }
    out.page = page;
    Ok(out)
}

/// Fills what the tag scan left empty from Readability's own metadata reading.
fn merge_readability(page: &mut PageMeta, article: &Article) {
    let mut sources = std::mem::take(&mut page.sources);
    // Readability's title drops the " - Site name" suffix a meta title often carries.
    if !article.title.trim().is_empty()
        && sources.get("title").map(String::as_str) != Some("json-ld")
    {
        page.title = Some(article.title.trim().to_owned());
        sources.insert("title".to_owned(), "readability".to_owned());
    }
    let mut fill = |field: &mut Option<String>, name: &str, value: Option<&String>| {
        if field.is_none()
            && let Some(v) = value.map(|v| v.trim()).filter(|v| !v.is_empty())
        {
            *field = Some(v.to_owned());
            sources.insert(name.to_owned(), "readability".to_owned());
        }
    };
    fill(
        &mut page.published_at,
        "published_at",
        article.published_time.as_ref(),
    );
    fill(
        &mut page.modified_at,
        "modified_at",
        article.modified_time.as_ref(),
    );
    fill(&mut page.site_name, "site_name", article.site_name.as_ref());
    fill(
        &mut page.canonical_url,
        "canonical_url",
        article.url.as_ref(),
    );
    fill(&mut page.lang, "lang", article.lang.as_ref());
    if page.authors.is_empty()
        && let Some(byline) = article
            .byline
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
    {
        page.authors = vec![byline.to_owned()];
        sources.insert("authors".to_owned(), "readability".to_owned());
    }
    page.sources = sources;
}

/// Block elements whose text counts as paragraph text for [`largest_block`].
const PARAGRAPHS: &str = "p, pre, blockquote, li, h2, h3, h4";

/// The text of the element holding the most paragraph text (less its link text), for pages
/// where Readability finds no container: every paragraph-like element adds its text length to
/// its parent and half of it to its grandparent, as Readability scores candidates, but with no
/// class-name weights and nothing removed first.
fn largest_block(html: &str) -> Option<String> {
    let doc = dom_query::Document::from(html);
    let mut scores: std::collections::HashMap<dom_query::NodeId, (f64, dom_query::NodeRef<'_>)> =
        std::collections::HashMap::new();
    for node in doc.select(PARAGRAPHS).nodes() {
        let text = node.text();
        let chars = text
            .split_whitespace()
            .map(|w| w.chars().count() + 1)
            .sum::<usize>();
        if chars < 25 {
            continue;
        }
        let links: usize = dom_query::Selection::from(*node)
            .select("a")
            .nodes()
            .iter()
            .map(|a| {
                a.text()
                    .split_whitespace()
                    .map(|w| w.chars().count() + 1)
                    .sum::<usize>()
            })
            .sum();
        let score = chars.saturating_sub(links) as f64;
        let mut weight = 1.0;
        let mut at = node.parent();
        for _ in 0..2 {
            let Some(up) = at else { break };
            scores.entry(up.id).or_insert((0.0, up)).0 += score * weight;
            weight /= 2.0;
            at = up.parent();
        }
    }
    let (_, best) = scores.into_values().max_by(|a, b| a.0.total_cmp(&b.0))?;
    let text = best.formatted_text().to_string();
    (!text.trim().is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_counts_real_elements_only() {
        let deep = format!("{}x{}", "<div>".repeat(20), "</div>".repeat(20));
        assert_eq!(nesting_beyond(&deep, 19), Some(20));
        assert_eq!(nesting_beyond(&deep, 20), None);
        // Siblings, void and implicitly closed elements, comments and <x/> do not nest.
        let flat = format!(
            "{}{}<!-- {} --><span/>",
            "<div>a</div>".repeat(50),
            "<p>unclosed<li>item<br><img src=x>".repeat(50),
            "<div>".repeat(50)
        );
        assert_eq!(nesting_beyond(&flat, 3), None);
        assert!(extract(&deep.replace("x", "<p>text</p>"), None).is_ok());
        let hostile = "<div>".repeat(MAX_NESTING + 1);
        let err = extract(&hostile, None).unwrap_err();
        assert!(err.contains("nests elements"), "{err}");
    }

    #[test]
    fn inert_elements_are_stripped_but_json_ld_stays() {
        let page = "<p>a</p><SCRIPT src=x>var s = '<p>';</script><style>p{}</STYLE>\
            <script type=\"application/ld+json\">{}</script><svg><path/></svg><scripts>b</scripts>";
        assert_eq!(
            strip_inert(page),
            "<p>a</p><script type=\"application/ld+json\">{}</script><scripts>b</scripts>"
        );
        assert_eq!(
            strip_inert("<p>x</p><script>unclosed"),
            "<p>x</p><script>unclosed"
        );
    }
}
