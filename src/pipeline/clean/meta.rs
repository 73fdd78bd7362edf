//! Page metadata a news consumer needs, read from the page's own declarations: JSON-LD
//! (`NewsArticle` and the other schema.org article types, `@graph` included), OpenGraph and
//! `article:*` meta tags, `<link rel=canonical>`, `<time datetime>` and `<html lang>`.
//!
//! A scan of the tags, not a second DOM parse: the `<meta>`, `<link>`, `<time>` and `<html>`
//! start tags are found with one regex and their attributes with another, so reading the
//! metadata costs a fraction of the extraction itself. Each value records where it came from
//! (`json-ld`, `meta`, `link`, `time`, `html`), since that is free here.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::record::PageMeta;

/// schema.org types whose object describes the article itself.
const ARTICLE_TYPES: &[&str] = &[
    "NewsArticle",
    "Article",
    "BlogPosting",
    "ReportageNewsArticle",
    "AnalysisNewsArticle",
    "OpinionNewsArticle",
    "ReviewNewsArticle",
    "BackgroundNewsArticle",
    "AskPublicNewsArticle",
    "LiveBlogPosting",
    "TechArticle",
    "ScholarlyArticle",
    "SocialMediaPosting",
    "DiscussionForumPosting",
    "Report",
    "Review",
    "HowTo",
    "Recipe",
];

/// Most JSON-LD bytes read from one page; a page with more is unusual and its rest is ignored.
const MAX_JSON_LD_BYTES: usize = 1 << 20;

#[allow(clippy::unwrap_used)] // Constant patterns, covered by the tests.
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)<(meta|link|time|html)(?:\s[^>]*)?>").unwrap());
#[allow(clippy::unwrap_used)]
static ATTR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))"#).unwrap()
});

/// The attributes of one start tag, names lower-cased, values entity-decoded.
///
/// [`ATTR`] finds each `name = value` and the parts are split off by hand: the name is the
/// match's leading run of name characters (they include no space and no `=`), the value what
/// follows the `=` and the spaces around it, less its quotes. That is what the regex's groups
/// hold, without asking the regex engine for groups (its slower engines; this runs on every
/// `<meta>` of the page).
fn attributes(tag: &str) -> BTreeMap<String, String> {
    ATTR.find_iter(tag)
        .map(|m| {
            let pair = m.as_str();
            let name_len = pair
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(b))
                .count();
            let value = pair[name_len..].trim_start();
            let value = value.strip_prefix('=').unwrap_or(value).trim_start();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            (
                pair[..name_len].to_ascii_lowercase(),
                html_escape::decode_html_entities(value.trim()).into_owned(),
            )
        })
        .collect()
}

/// The JSON-LD blocks of `html`, parsed; blocks that do not parse are skipped.
pub(crate) fn json_ld_blocks(html: &str) -> Vec<Value> {
    let mut blocks = Vec::new();
    let mut at = 0;
    let mut budget = MAX_JSON_LD_BYTES;
    let lower_has = |s: &str| s.to_ascii_lowercase().contains("ld+json");
    while let Some(offset) = html.get(at..).and_then(|rest| rest.find("<script")) {
        let open = at + offset;
        let Some(head_end) = html[open..].find('>').map(|i| open + i + 1) else {
            break;
        };
        at = head_end;
        if !lower_has(&html[open..head_end]) {
            continue;
        }
        let Some(end) = html[head_end..].find("</script").map(|i| head_end + i) else {
            break;
        };
        at = end;
        let body = html[head_end..end].trim();
        let body = body
            .strip_prefix("<![CDATA[")
            .and_then(|b| b.strip_suffix("]]>"))
            .unwrap_or(body);
        if body.len() > budget {
            break;
        }
        budget -= body.len();
        if let Ok(value) = serde_json::from_str::<Value>(body) {
            flatten(value, &mut blocks);
        }
    }
    blocks
}

/// Pushes every object of a JSON-LD value: arrays and `@graph` lists are opened.
fn flatten(value: Value, out: &mut Vec<Value>) {
    match value {
        Value::Array(items) => items.into_iter().for_each(|v| flatten(v, out)),
        Value::Object(mut map) => {
            if let Some(graph) = map.remove("@graph") {
                flatten(graph, out);
            }
            if !map.is_empty() {
                out.push(Value::Object(map));
            }
        }
        _ => {}
    }
}

/// Whether a JSON-LD object's `@type` is one of the article types.
fn is_article(object: &Value) -> bool {
    let named = |t: &Value| t.as_str().is_some_and(|t| ARTICLE_TYPES.contains(&t));
    match object.get("@type") {
        Some(Value::Array(types)) => types.iter().any(named),
        Some(t) => named(t),
        None => false,
    }
}

/// The article object of the page's JSON-LD: the first of an article type, preferring one
/// that carries an `articleBody`.
pub(crate) fn json_ld_article(blocks: &[Value]) -> Option<&Value> {
    blocks
        .iter()
        .filter(|b| is_article(b))
        .max_by_key(|b| b.get("articleBody").is_some_and(Value::is_string))
}

/// A trimmed, non-empty string field (a string, or the `name`/`@id` of an object).
fn text_of(value: Option<&Value>) -> Option<String> {
    let s = match value? {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .get("name")
            .or_else(|| o.get("@id"))
            .and_then(Value::as_str)?
            .to_owned(),
        Value::Array(items) => return items.iter().find_map(|v| text_of(Some(v))),
        _ => return None,
    };
    let s = html_escape::decode_html_entities(s.trim()).into_owned();
    (!s.is_empty()).then_some(s)
}

/// Author names from a JSON-LD `author` (a string, an object, or a list of either).
fn author_names(value: Option<&Value>) -> Vec<String> {
    let mut names: Vec<String> = match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::Object(o) => text_of(o.get("name")),
                other => text_of(Some(other)),
            })
            .collect(),
        Some(Value::Object(o)) => text_of(o.get("name")).into_iter().collect(),
        Some(other) => text_of(Some(other)).into_iter().collect(),
        None => Vec::new(),
    };
    names.retain(|n| !is_url(n));
    names.dedup();
    names
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://") || s.starts_with('/')
}

/// Sets `field` to `value` from `source` unless it already holds one.
fn offer(
    field: &mut Option<String>,
    sources: &mut BTreeMap<String, String>,
    name: &str,
    value: Option<String>,
    source: &str,
) {
    if field.is_none()
        && let Some(value) = value.filter(|v| !v.trim().is_empty())
    {
        *field = Some(value);
        sources.insert(name.to_owned(), source.to_owned());
    }
}

/// Reads the page's metadata from its JSON-LD `blocks` and its tags. Precedence per field:
/// JSON-LD first (it is written for machines), then meta tags, then `<link>`/`<time>`/`<html>`.
pub(crate) fn read(html: &str, blocks: &[Value]) -> PageMeta {
    let mut meta = PageMeta::default();
    let mut src = BTreeMap::new();
    if let Some(article) = json_ld_article(blocks) {
        offer(
            &mut meta.title,
            &mut src,
            "title",
            text_of(article.get("headline")),
            "json-ld",
        );
        meta.authors = author_names(article.get("author"));
        if !meta.authors.is_empty() {
            src.insert("authors".to_owned(), "json-ld".to_owned());
        }
        offer(
            &mut meta.published_at,
            &mut src,
            "published_at",
            text_of(article.get("datePublished")),
            "json-ld",
        );
        offer(
            &mut meta.modified_at,
            &mut src,
            "modified_at",
            text_of(article.get("dateModified")),
            "json-ld",
        );
        offer(
            &mut meta.site_name,
            &mut src,
            "site_name",
            text_of(article.get("publisher")),
            "json-ld",
        );
        offer(
            &mut meta.lang,
            &mut src,
            "lang",
            text_of(article.get("inLanguage")),
            "json-ld",
        );
    }
    let mut tags: BTreeMap<String, String> = BTreeMap::new();
    let mut authors_meta = Vec::new();
    let mut canonical = None;
    let mut time = None;
    let mut html_lang = None;
    for m in TAG.find_iter(html) {
        let tag = m.as_str();
        let attrs = attributes(tag);
        // The tag name (the regex's group, read off the match): up to the first space or `>`.
        let name = &tag[1..tag[1..]
            .find(|c: char| c.is_whitespace() || c == '>')
            .map_or(tag.len(), |i| i + 1)];
        match name.to_ascii_lowercase().as_str() {
            "meta" => {
                let key = attrs
                    .get("property")
                    .or_else(|| attrs.get("name"))
                    .or_else(|| attrs.get("itemprop"))
                    .or_else(|| attrs.get("http-equiv"))
                    .map(|k| k.to_ascii_lowercase());
                if let (Some(key), Some(content)) = (key, attrs.get("content")) {
                    if matches!(key.as_str(), "author" | "article:author" | "parsely-author")
                        && !content.is_empty()
                        && !is_url(content)
                    {
                        authors_meta.push(content.clone());
                    }
                    tags.entry(key).or_insert_with(|| content.clone());
                }
            }
            "link" => {
                let rel = attrs.get("rel").map(|r| r.to_ascii_lowercase());
                if canonical.is_none() && rel.as_deref() == Some("canonical") {
                    canonical = attrs.get("href").cloned();
                }
            }
            "time" => {
                if time.is_none() {
                    time = attrs.get("datetime").cloned();
                }
            }
            _ => {
                if html_lang.is_none() {
                    html_lang = attrs.get("lang").or_else(|| attrs.get("xml:lang")).cloned();
                }
            }
        }
    }
    let tag = |keys: &[&str]| keys.iter().find_map(|k| tags.get(*k).cloned());
    offer(
        &mut meta.title,
        &mut src,
        "title",
        tag(&["og:title", "twitter:title"]),
        "meta",
    );
    if meta.authors.is_empty() && !authors_meta.is_empty() {
        authors_meta.dedup();
        meta.authors = authors_meta;
        src.insert("authors".to_owned(), "meta".to_owned());
    }
    offer(
        &mut meta.published_at,
        &mut src,
        "published_at",
        tag(&[
            "article:published_time",
            "og:published_time",
            "datepublished",
            "pubdate",
            "publish-date",
            "parsely-pub-date",
            "sailthru.date",
            "dc.date.issued",
            "dcterms.created",
        ]),
        "meta",
    );
    offer(
        &mut meta.published_at,
        &mut src,
        "published_at",
        time,
        "time",
    );
    offer(
        &mut meta.modified_at,
        &mut src,
        "modified_at",
        tag(&[
            "article:modified_time",
            "og:updated_time",
            "datemodified",
            "dcterms.modified",
        ]),
        "meta",
    );
    offer(
        &mut meta.canonical_url,
        &mut src,
        "canonical_url",
        canonical,
        "link",
    );
    offer(
        &mut meta.canonical_url,
        &mut src,
        "canonical_url",
        tag(&["og:url"]),
        "meta",
    );
    offer(
        &mut meta.site_name,
        &mut src,
        "site_name",
        tag(&["og:site_name"]),
        "meta",
    );
    offer(&mut meta.lang, &mut src, "lang", html_lang, "html");
    offer(
        &mut meta.lang,
        &mut src,
        "lang",
        tag(&["content-language", "og:locale", "language"]),
        "meta",
    );
    meta.sources = src;
    meta
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_ld_wins_then_meta_then_tags() {
        let page = r#"<html lang="en-GB"><head>
            <meta property="og:title" content="OG title">
            <meta property="article:published_time" content="2024-01-02T03:04:05Z">
            <meta name=author content="Meta Author">
            <link rel="canonical" href="https://example.com/a?x=1&amp;y=2">
            <meta property="og:site_name" content="Example &amp; Co">
            <script type="application/ld+json">{"@context":"https://schema.org","@graph":[
              {"@type":"WebSite","name":"Site"},
              {"@type":["NewsArticle"],"headline":"LD headline","dateModified":"2024-01-03",
               "author":[{"@type":"Person","name":"Ann Lee"},{"name":"Bo Chan"}],
               "publisher":{"@type":"Organization","name":"Example News"}}]}</script>
            </head><body><time datetime="2020-01-01">x</time></body></html>"#;
        let blocks = json_ld_blocks(page);
        let meta = read(page, &blocks);
        assert_eq!(meta.title.as_deref(), Some("LD headline"));
        assert_eq!(meta.authors, ["Ann Lee", "Bo Chan"]);
        assert_eq!(meta.published_at.as_deref(), Some("2024-01-02T03:04:05Z"));
        assert_eq!(meta.modified_at.as_deref(), Some("2024-01-03"));
        assert_eq!(
            meta.canonical_url.as_deref(),
            Some("https://example.com/a?x=1&y=2")
        );
        assert_eq!(meta.site_name.as_deref(), Some("Example News"));
        assert_eq!(meta.lang.as_deref(), Some("en-GB"));
        assert_eq!(meta.sources["title"], "json-ld");
        assert_eq!(meta.sources["published_at"], "meta");
        assert_eq!(meta.sources["canonical_url"], "link");
    }

    #[test]
    fn time_element_and_meta_fill_what_json_ld_lacks() {
        let page = r#"<meta name="author" content="https://x.com/me"><meta name="author" content="Jo Bloggs">
            <meta property="og:url" content="https://x.com/p"><p><time class=t datetime='2019-05-06'>May</time>"#;
        let meta = read(page, &json_ld_blocks(page));
        assert_eq!(meta.authors, ["Jo Bloggs"]);
        assert_eq!(meta.published_at.as_deref(), Some("2019-05-06"));
        assert_eq!(meta.sources["published_at"], "time");
        assert_eq!(meta.canonical_url.as_deref(), Some("https://x.com/p"));
        assert_eq!(meta.title, None);
    }

    #[test]
    fn attributes_are_read_with_any_quoting_and_spacing() {
        let attrs = attributes("<META A = \"x &amp; y\" B='z' c=w d=\"open e=v>");
        let pairs: Vec<(&str, &str)> = attrs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        // `d` has no closing quote, so it is no attribute; `e=v` inside it still is one.
        assert_eq!(pairs, [("a", "x & y"), ("b", "z"), ("c", "w"), ("e", "v")]);
    }

    #[test]
    fn broken_json_ld_is_skipped() {
        let page = r#"<script type="application/ld+json">{"@type": "NewsArticle",</script>
            <script type="application/ld+json">{"@type":"BlogPosting","articleBody":"Body."}</script>"#;
        let blocks = json_ld_blocks(page);
        assert_eq!(blocks.len(), 1);
        assert_eq!(
            json_ld_article(&blocks).and_then(|a| a["articleBody"].as_str()),
            Some("Body.")
        );
    }
}
