//! Boilerplate rules over the paragraphs of a cleaned text, and the dateline.
//!
//! Each paragraph (one line of the input) is judged as a whole; nothing is cut from inside a
//! paragraph. The passes run in this order so that a second run finds nothing more
//! (idempotence):
//!
//! 1. **Line patterns**, each anchored to the whole line: `title`/`byline` (a line that only
//!    repeats the known headline or author), `chrome` (a fixed list: "Advertisement", "Skip to
//!    content", reading times, comment prompts, breadcrumbs, number-only lines), `share` (only
//!    share words and network names), `read_more` and `related` (the phrase alone or before a
//!    separator `:`, `»`, `|`, `-`), `credit` ("(Reporting by …; Editing by …)"),
//!    `photo_credit` ("Photo: …", "Фото: …", or a caption ending in "/Getty Images",
//!    "(AP Photo/…)"), then for short lines `subscribe`, `follow`, `copyright`, and for very
//!    short lines without closing punctuation `timestamp` ("Updated Nov 19, 6:55 AM") and
//!    `byline` ("By Jane Doe"). A story sentence that merely contains these words never
//!    matches.
//! 2. A `related` header takes the list of headline-like lines (short, no closing period)
//!    right under it.
//! 3. **Repeated chrome**: a short line (≤ 5 words, no closing punctuation) that occurs twice or
//!    more is site furniture; every copy goes. Longer repeated lines stay (an interview repeats
//!    its questions).
//! 4. **Teasers**: a *teaser-shaped* line ends in `…` or `...` right after a word or comma, has
//!    at least four words and balanced quotes (so a quotation trailing off is not one). A run of
//!    two or more teaser-shaped lines anywhere is a block of teasers; a single one is removed
//!    only when it is the last line and cut off after a function word ("…to end the…"). A story
//!    that ends with a single "…" after a content word stays.

use regex::Regex;

/// Maximum words in a line the short-line patterns (subscribe, follow, credits, copyright) take.
const MAX_SHORT_LINE_WORDS: usize = 30;
/// Maximum words in a repeated line treated as chrome.
const MAX_REPEATED_CHROME_WORDS: usize = 5;
/// Maximum words in a line the fixed chrome list can match.
const MAX_CHROME_WORDS: usize = 20;
/// Maximum words in a share bar.
const MAX_SHARE_WORDS: usize = 15;
/// Maximum words in a caption that ends in a photo credit.
const MAX_CAPTION_WORDS: usize = 80;
/// Maximum words in a timestamp or byline line.
const MAX_META_WORDS: usize = 12;
/// Maximum words in a headline listed under a "Related" header.
const MAX_HEADLINE_WORDS: usize = 20;
/// Minimum words in a teaser-shaped line.
const MIN_TEASER_WORDS: usize = 4;

/// Words after which a trailing "…" means the line was cut, not that the story trails off:
/// articles, prepositions, conjunctions and determiners, which cannot end a sentence. Verbs
/// ("as it always has…") and content words can, so they are not here.
const FUNCTION_WORDS: &[&str] = &[
    "a", "an", "the", "of", "to", "in", "on", "at", "for", "with", "by", "from", "and", "or",
    "but", "that", "which", "whose", "his", "her", "its", "their", "our", "your", "this", "these",
    "those", "into", "over", "after", "before", "about", "between", "against", "during", "under",
    "than", "amid", "across", "toward", "towards", "through",
];

/// Words a share bar is made of; a share line has only these and at least one network or verb.
const SHARE_WORDS: &[&str] = &[
    "share",
    "shares",
    "sharing",
    "this",
    "article",
    "story",
    "post",
    "page",
    "on",
    "via",
    "by",
    "the",
    "to",
    "facebook",
    "twitter",
    "x",
    "whatsapp",
    "email",
    "e",
    "mail",
    "linkedin",
    "pinterest",
    "reddit",
    "telegram",
    "print",
    "copy",
    "link",
    "copied",
    "tweet",
    "messenger",
    "flipboard",
    "pocket",
    "save",
    "gift",
    "sms",
    "vk",
    "viber",
    "threads",
    "bluesky",
    "comment",
    "comments",
    "url",
];
const SHARE_ANCHORS: &[&str] = &[
    "share",
    "shares",
    "sharing",
    "tweet",
    "facebook",
    "twitter",
    "whatsapp",
    "linkedin",
    "pinterest",
    "reddit",
    "telegram",
    "flipboard",
    "messenger",
    "email",
];

/// The compiled rules; built once per stage.
#[derive(Debug)]
pub(crate) struct Rules {
    read_more: Regex,
    related: Regex,
    subscribe: Regex,
    follow: Regex,
    copyright: Regex,
    photo_credit: Regex,
    /// The `photo_credit` caption "Name/Agency", apart from the rest: in one alternation its
    /// long Unicode class made the whole regex about 20 times slower; it runs only on lines with
    /// a `/`, which every match has.
    photo_agency: Regex,
    chrome: Regex,
    /// A caption ending in a credit: "(AP Photo/…)", "… /Getty Images", "(Jane Doe/Reuters)".
    /// Three regexes, not one alternation: each on its own keeps the regex engine's end-anchored
    /// search (about 30 times faster on the html-extra lines); a line matches if any does.
    caption_credit: [Regex; 3],
    click_here: Regex,
    timestamp: Regex,
    byline: Regex,
    credit: Regex,
    dateline: Regex,
}

fn word_count(line: &str) -> usize {
    line.split_whitespace().count()
}

impl Rules {
    /// Compiles the rules. Word boundaries are ASCII (`(?-u:\b)`) so the lazy DFA handles
    /// every pattern; a Unicode `\b` would push non-ASCII lines onto the slow PikeVM.
    ///
    /// # Panics
    /// Never: the patterns are constants, covered by the tests.
    #[allow(clippy::unwrap_used)] // Constant patterns; a typo fails every test at once.
    pub(crate) fn new() -> Self {
        // A separator after a header phrase: the header stands alone or introduces a headline.
        const SEP: &str = r"(?:\s*$|\s*[:»›>→|•\-–—…]|\.\.\.)";
        let re = |s: &str| Regex::new(s).unwrap();
        Self {
            read_more: re(&format!(
                r"(?i)^(?:read more|read also|also read|more to read|continue reading|read the full (?:story|article)|click here to read more|see also|read next|more on this(?: story| topic)?|watch|listen|read)(?-u:\b){SEP}"
            )),
            related: re(&format!(
                r"(?i)^[\[(]?(?:related(?: articles?| stories| coverage| news| posts| content| links| reading| topics| video)?|you (?:may|might) also (?:like|be interested in|enjoy)|more from [^.!?]{{1,40}}|more stories|more [\p{{L}} ]{{1,20}} stories|more news|recommended(?: for you| stories| articles| reading)?|most (?:read|popular|viewed|shared)|trending(?: now| stories| news)?|top stories|editor'?s picks|latest news|don'?t miss|see more|more in [^.!?]{{1,30}}|also on [^.!?]{{1,30}})(?-u:\b){SEP}"
            )),
            subscribe: re(
                r"(?i)^(?:subscribe(?-u:\b)|sign up(?-u:\b)|sign-up(?-u:\b)|get (?:our|the) [^.!?]{0,40}newsletter|join (?:our|the) [^.!?]{0,30}(?:newsletter|channel|mailing list)|download (?:our|the) app|want more (?:news|stories)\?)|(?:subscribe|sign up)[^.!?]{0,60}(?:newsletter|inbox|email updates|alerts|notifications)",
            ),
            follow: re(
                r"(?i)^(?:follow (?:us|@\w+|[^.!?]{1,40} on (?:twitter|x|facebook|instagram|telegram|linkedin|tiktok|youtube|threads|bluesky|google news))|like us on facebook|find us on|connect with us|join us on|stay connected)(?-u:\b)",
            ),
            copyright: re(
                r"(?i)^(?:[©ⓒ]|\(c\)\s|copyright\s*(?:[©ⓒ]|\(c\)|\d{4}))|all rights reserved",
            ),
            photo_credit: re(
                r"(?i)^\(?(?:photo|photos|photograph|image|images|picture|pictures|pic|file photo|credit|credits|illustration|graphic|video|фото|foto|fotos|bild|imagen|immagine)(?: credits?)?\s*(?::|by(?-u:\b)|/|courtesy(?-u:\b)|\.\.\.|…)|^(?:getty images|shutterstock|ap photo|reuters|afp)(?:\s*/\s*[\p{L}. ]{1,40})?$",
            ),
            photo_agency: re(
                r"(?i)^[\p{L}.' -]{2,40}/(?:reuters|ap|afp|getty images|epa|bloomberg|shutterstock|afp via getty images|ap photo)\s*$",
            ),
            chrome: re(
                r"(?i)^(?:advertisement|advertising|ad|sponsored(?: content)?|skip to (?:main )?content|skip to navigation|back to top|scroll to top|go to top|close|menu|search|log ?in|sign in|loading(?:\.\.\.|…)?|print(?: this)?(?: article| page)?|\d+ comments?|comments?|show comments|view comments|leave a comment|cookie (?:policy|settings)|privacy policy|terms (?:of use|and conditions)|next article|previous article|next|previous|home|top|toggle navigation|listen to (?:this )?article|\d+ min(?:ute)?s? read|(?:tempo de leitura|reading time|lesezeit|tiempo de lectura|temps de lecture)\s*:?.*|iklan|реклама|anzeige|publicidade|publicidad|publicité|pubblicità|caption|(?:image|photo|slide|picture) \d+ (?:of|/)\s*/?\s*\d*|(?:post|add|leave|write|view|show|read) (?:a |your )?comments?\s*(?:\(\+\))?|this (?:slideshow|video|content|page) requires javascript|tell us what you think(?:\.\.\.|…)?|(?:filed under|tags?|topics?|categories|category|posted in)\s*:.*|this (?:post|article|page) (?:may )?contains? affiliate.*|sharing is caring!?)\s*[.:!]?$",
            ),
            caption_credit: [
                re(r"(?i)\((?:ap photo|photo|image|reuters|afp|getty|epa|file)[^)]{0,80}\)\s*$"),
                re(
                    r"(?i)(?:/|\|\s*)(?:getty images|reuters|ap|afp|epa|bloomberg|shutterstock|ap photo)\s*$",
                ),
                re(r"(?i)\((?:\p{Lu}[\p{L}.\-]*\s?)+(?:/(?:\p{Lu}[\p{L}.\-]*\s?)+)+\)\s*$"),
            ],
            click_here: re(r"(?i)(?:^|[.!?]\s)click here(?-u:\b)"),
            timestamp: re(
                r"(?i)^(?:(?:last )?updated|published|first published|posted|modified|date)(?: on| at)?(?-u:\b)\s*:?.*\d",
            ),
            byline: re(r"^(?i:by)\s+\p{Lu}"),
            credit: re(
                r"(?i)^[(\[]?(?:additional )?(?:reporting|writing|editing|compiled|edited|produced) by(?-u:\b)",
            ),
            dateline: re(
                r"^([\p{Lu}][\p{Lu}\p{M}.'’\-]{2,}(?:[ /][\p{Lu}][\p{Lu}\p{M}.'’\-]+){0,3})(,[^()\-–—\n.!?]{1,40}?)?\s*(\([^()\n]{1,30}\))?\s*(--|[-–—:])(?:\s|$)",
            ),
        }
    }

    /// The kind of a line that pattern rules remove, if any (pass 1).
    pub(crate) fn line_kind(&self, line: &str) -> Option<&'static str> {
        let words = word_count(line);
        if words == 0 {
            return None;
        }
        // Word-count gates first: most story paragraphs are too long for any short-line rule.
        if (words <= MAX_CHROME_WORDS && (self.chrome.is_match(line) || is_breadcrumb(line)))
            || !line.chars().any(char::is_alphabetic)
        {
            return Some("chrome");
        }
        if is_shortcode(line) {
            return Some("chrome");
        }
        if words <= MAX_SHARE_WORDS && is_share_line(line) {
            return Some("share");
        }
        let ends_sentence = line.ends_with(['.', '!', '?', '"', '\u{201D}']);
        if words <= 12 && !ends_sentence && self.read_more.is_match(line) {
            return Some("read_more");
        }
        if words <= 20 && self.read_more.is_match(line) && has_separator_after_header(line) {
            return Some("read_more");
        }
        if words <= 20 && self.related.is_match(line) {
            return Some("related");
        }
        if self.credit.is_match(line) && words <= MAX_SHORT_LINE_WORDS * 2 {
            return Some("credit");
        }
        if words <= MAX_CAPTION_WORDS && self.caption_credit.iter().any(|re| re.is_match(line)) {
            return Some("photo_credit");
        }
        if words > MAX_SHORT_LINE_WORDS {
            return None;
        }
        if words <= MAX_META_WORDS && !ends_sentence {
            if self.timestamp.is_match(line) || is_date_line(line) {
                return Some("timestamp");
            }
            if self.byline.is_match(line) {
                return Some("byline");
            }
        }
        if self.click_here.is_match(line) {
            return Some("read_more");
        }
        if self.subscribe.is_match(line) {
            return Some("subscribe");
        }
        if self.follow.is_match(line) {
            return Some("follow");
        }
        if self.copyright.is_match(line) {
            return Some("copyright");
        }
        if self.photo_credit.is_match(line)
            || (line.contains('/') && self.photo_agency.is_match(line))
        {
            return Some("photo_credit");
        }
        None
    }

    /// Judges every line: `Some(kind)` for the ones to remove (all three passes).
    ///
    /// `title` and `byline` (from the input or the page) mark lines that only repeat them.
    pub(crate) fn judge(
        &self,
        lines: &[&str],
        title: Option<&str>,
        byline: Option<&str>,
    ) -> Vec<Option<&'static str>> {
        let same = |line: &str, known: Option<&str>| {
            known.is_some_and(|k| {
                let k = k.trim();
                !k.is_empty()
                    && (line.eq_ignore_ascii_case(k)
                        || line.get(3..).is_some_and(|rest| {
                            line[..3].eq_ignore_ascii_case("by ") && rest.eq_ignore_ascii_case(k)
                        }))
            })
        };
        let mut verdicts: Vec<Option<&'static str>> = lines
            .iter()
            .map(|l| {
                if same(l, title) {
                    Some("title")
                } else if same(l, byline) {
                    Some("byline")
                } else {
                    self.line_kind(l)
                }
            })
            .collect();

        // A "Related"/"More stories" header takes the headline list under it.
        let mut in_list = false;
        for (line, verdict) in lines.iter().zip(verdicts.iter_mut()) {
            match verdict {
                Some("related") => in_list = true,
                Some(_) => {}
                None if in_list && is_headline_like(line) => *verdict = Some("related"),
                None => in_list = false,
            }
        }

        // Pass 2: repeated short lines.
        let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for (line, verdict) in lines.iter().zip(&verdicts) {
            if verdict.is_none() && is_chrome_candidate(line) {
                *counts.entry(line).or_insert(0) += 1;
            }
        }
        for (line, verdict) in lines.iter().zip(verdicts.iter_mut()) {
            if verdict.is_none() && counts.get(line).is_some_and(|&n| n >= 2) {
                *verdict = Some("chrome");
            }
        }

        // Pass 3: teasers, over the lines still kept.
        let kept: Vec<usize> = (0..lines.len())
            .filter(|&i| verdicts[i].is_none())
            .collect();
        let mut run: Vec<usize> = Vec::new();
        let close_run = |run: &mut Vec<usize>, verdicts: &mut [Option<&'static str>], at_end| {
            let remove = run.len() >= 2
                || (at_end && run.len() == 1 && cut_after_function_word(lines[run[0]]));
            if remove {
                for &i in run.iter() {
                    verdicts[i] = Some("teaser");
                }
            }
            run.clear();
        };
        for &i in &kept {
            if is_teaser_shaped(lines[i]) {
                run.push(i);
            } else {
                close_run(&mut run, &mut verdicts, false);
            }
        }
        close_run(&mut run, &mut verdicts, true);
        verdicts
    }

    /// The byte length of a dateline opening `first` ("TEHRAN (Reuters) -"), if there is one.
    ///
    /// The place must be in capitals; without an agency in brackets the separator must be a
    /// dash (a colon only counts after an agency), so an opening like "NASA said" never is one.
    pub(crate) fn dateline(&self, first: &str) -> Option<usize> {
        let caps = self.dateline.captures(first)?;
        let agency = caps.get(3).is_some();
        let sep = caps.get(4)?.as_str();
        if sep == ":" && !agency {
            return None;
        }
        if !agency && caps.get(2).is_none() && sep == "-" {
            // "NATO - which …" is too weak; "WASHINGTON -" is common, so accept only a place
            // of at least two letters followed by the dash and a capitalised word.
            let rest = first[caps.get(0)?.end()..].trim_start();
            if !rest.starts_with(char::is_uppercase) {
                return None;
            }
        }
        Some(caps.get(4)?.end())
    }
}

/// "HomeLatest NewsStory title": a breadcrumb trail glued together by the extractor, or one
/// with separators ("Home › World › Middle East").
fn is_breadcrumb(line: &str) -> bool {
    line.strip_prefix("Home").is_some_and(|rest| {
        rest.starts_with(|c: char| c.is_uppercase())
            || rest.trim_start().starts_with(['›', '»', '>', '/', '|'])
    })
}

/// An unrendered WordPress shortcode: `[button link="…"]Send us YOUR review[/button]`.
fn is_shortcode(line: &str) -> bool {
    line.starts_with('[')
        && line.ends_with(']')
        && line.contains("[/")
        && line[1..].starts_with(|c: char| c.is_ascii_lowercase())
}

/// A short line that reads as a date or time: it has a year or a clock time, and at most
/// one word that is neither a month, a weekday, a number nor a time word.
fn is_date_line(line: &str) -> bool {
    const DATE_WORDS: &[&str] = &[
        "jan",
        "january",
        "feb",
        "february",
        "mar",
        "march",
        "apr",
        "april",
        "may",
        "jun",
        "june",
        "jul",
        "july",
        "aug",
        "august",
        "sep",
        "sept",
        "september",
        "oct",
        "october",
        "nov",
        "november",
        "dec",
        "december",
        "mon",
        "monday",
        "tue",
        "tuesday",
        "wed",
        "wednesday",
        "thu",
        "thursday",
        "fri",
        "friday",
        "sat",
        "saturday",
        "sun",
        "sunday",
        "am",
        "pm",
        "a",
        "p",
        "m",
        "gmt",
        "utc",
        "est",
        "edt",
        "pst",
        "pdt",
        "cet",
        "ist",
        "ist",
        "et",
        "pt",
        "de",
        "às",
        "at",
        "on",
        "updated",
        "published",
        "posted",
        "st",
        "nd",
        "rd",
        "th",
    ];
    let has_year = line
        .split(|c: char| !c.is_ascii_digit())
        .any(|d| d.len() == 4 && (d.starts_with("19") || d.starts_with("20")));
    let has_time = line
        .as_bytes()
        .windows(3)
        .any(|w| w[0].is_ascii_digit() && w[1] == b':' && w[2].is_ascii_digit());
    if !has_year && !has_time {
        return false;
    }
    let other = line
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !w.chars().all(|c| c.is_ascii_digit()))
        .filter(|w| !DATE_WORDS.contains(&w.to_lowercase().as_str()))
        .count();
    other <= 2
}

/// A line that reads as a listed headline: short, no closing period.
fn is_headline_like(line: &str) -> bool {
    word_count(line) <= MAX_HEADLINE_WORDS && !line.ends_with(['.', ':', ';'])
}

fn has_separator_after_header(line: &str) -> bool {
    line.contains([':', '»', '|', '›', '→'])
}

fn is_share_line(line: &str) -> bool {
    let is_in = |list: &[&str], w: &str| list.iter().any(|s| s.eq_ignore_ascii_case(w));
    let mut words = line
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty());
    let mut anchored = false;
    let all_share = words.all(|w| {
        anchored |= is_in(SHARE_ANCHORS, w);
        is_in(SHARE_WORDS, w)
    });
    all_share && anchored
}

fn is_chrome_candidate(line: &str) -> bool {
    if line.len() > MAX_REPEATED_CHROME_WORDS * 40 {
        return false;
    }
    let words = word_count(line);
    words > 0
        && words <= MAX_REPEATED_CHROME_WORDS
        && !line.ends_with(['.', '!', '?', ':', ';', '"', '\u{201D}', '\u{2019}', ')'])
        && line.chars().any(char::is_alphabetic)
}

/// The text before a trailing ellipsis, when the line ends in one.
fn before_ellipsis(line: &str) -> Option<&str> {
    let line = line.trim_end();
    line.strip_suffix('\u{2026}')
        .or_else(|| line.strip_suffix("..."))
        .map(str::trim_end)
}

fn quotes_balanced(line: &str) -> bool {
    let count = |c: char| line.chars().filter(|&x| x == c).count();
    count('\u{201C}') == count('\u{201D}')
        && count('"') % 2 == 0
        && count('\u{AB}') == count('\u{BB}')
}

fn is_teaser_shaped(line: &str) -> bool {
    let Some(head) = before_ellipsis(line) else {
        return false;
    };
    let cut_mid_text = head.ends_with(|c: char| c.is_alphanumeric() || c == ',');
    cut_mid_text && word_count(head) >= MIN_TEASER_WORDS && quotes_balanced(line)
}

fn cut_after_function_word(line: &str) -> bool {
    before_ellipsis(line)
        .and_then(|head| head.split_whitespace().last())
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .is_some_and(|w| FUNCTION_WORDS.contains(&w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(lines: &[&str]) -> Vec<Option<&'static str>> {
        Rules::new().judge(lines, None, None)
    }

    /// Lines that must go, with their kind.
    const BOILERPLATE: &[(&str, &str)] = &[
        ("Read more: Iran signs deal with Iraq", "read_more"),
        ("READ MORE", "read_more"),
        ("Continue reading", "read_more"),
        ("Related", "related"),
        ("Related Articles", "related"),
        ("You may also like: Ten things to know", "related"),
        ("Share this article", "share"),
        ("Share on Facebook Share on Twitter", "share"),
        ("Facebook Twitter WhatsApp Email", "share"),
        ("Sign up for our daily newsletter", "subscribe"),
        ("Subscribe to our channel", "subscribe"),
        ("Follow us on Twitter", "follow"),
        ("Follow Press TV on Telegram", "follow"),
        ("© 2024 Press TV. All rights reserved.", "copyright"),
        ("Copyright 2024 The Associated Press", "copyright"),
        ("Photo: Vahid Salemi/AP", "photo_credit"),
        ("(AP Photo/Vahid Salemi)", "photo_credit"),
        ("Vahid Salemi/Reuters", "photo_credit"),
        // One row for each of the caption regexes (`caption_credit`, `photo_agency`).
        (
            "Crowds gather outside the court in Tehran on Monday, as the verdict is read out (AP Photo/File)",
            "photo_credit",
        ),
        (
            "Crowds gather outside the court in Tehran on Monday, as the verdict is read | Getty Images",
            "photo_credit",
        ),
        (
            "Crowds gather outside the court in Tehran on Monday, as the verdict is read (Jane Doe/Anadolu)",
            "photo_credit",
        ),
        ("Shutterstock / Jane Doe", "photo_credit"),
        ("Advertisement", "chrome"),
        (
            "[button link=\"x\" type=\"big\"] Send us YOUR kit review[/button]",
            "chrome",
        ),
        (
            "12 issues for \u{A3}11.99. Click here for more information.",
            "read_more",
        ),
        ("Skip to main content", "chrome"),
    ];

    /// Story sentences that look a little like boilerplate and must stay.
    const STORY: &[&str] = &[
        "\u{201C}Read more books,\u{201D} the minister told students.",
        "Read more carefully, the report says the deal was never signed.",
        "Related talks in Baghdad ended without agreement.",
        "He said people should share the burden of reconstruction.",
        "Subscribers to the service rose by a third, the company said.",
        "Following the meeting, the two ministers signed a memorandum.",
        "The photo showed the minister in Baghdad.",
        "Copyright law was not discussed, officials said.",
        "Search teams found no survivors.",
        "Users who click here and there on the site were tracked, the study found.",
    ];

    #[test]
    fn boilerplate_lines_are_removed_with_their_kind() {
        let rules = Rules::new();
        for (line, kind) in BOILERPLATE {
            assert_eq!(rules.line_kind(line), Some(*kind), "line {line:?}");
        }
    }

    #[test]
    fn story_lines_that_look_like_boilerplate_stay() {
        let rules = Rules::new();
        for line in STORY {
            assert_eq!(rules.line_kind(line), None, "line {line:?}");
        }
        assert!(kinds(STORY).iter().all(Option::is_none));
    }

    #[test]
    fn trailing_teaser_block_is_removed() {
        let lines = [
            "The two signed a memorandum of understanding.",
            "Ali Asghar Khaji, a Senior Advisor to Iran\u{2019}s Foreign Minister, stated in an interview with\u{2026}",
            "Mohammad Eslami, the head of the AEOI, has warned of...",
        ];
        assert_eq!(kinds(&lines), [None, Some("teaser"), Some("teaser")]);
    }

    #[test]
    fn a_story_may_end_with_an_ellipsis() {
        let endings = [
            "And so the long wait for a deal goes on, as it always has\u{2026}",
            "\u{201C}We will see what happens, and then we will decide\u{2026}\u{201D}",
            "\u{201C}If they come back to the table\u{2026}\u{201D} he said, trailing off.",
            "The rest, as they say, is history...",
        ];
        for end in endings {
            let lines = ["The minister arrived in Baghdad on Wednesday.", end];
            assert_eq!(kinds(&lines), [None, None], "ending {end:?}");
        }
        let cut = [
            "The minister arrived.",
            "Donald Trump wants to bring Moscow and Kyiv to the negotiating table to end the\u{2026}",
        ];
        assert_eq!(kinds(&cut), [None, Some("teaser")]);
    }

    #[test]
    fn repeated_short_lines_are_chrome_but_repeated_sentences_are_not() {
        let lines = ["Press TV", "A sentence.", "Press TV", "A sentence."];
        assert_eq!(kinds(&lines), [Some("chrome"), None, Some("chrome"), None]);
    }

    #[test]
    fn datelines() {
        let rules = Rules::new();
        let cases = [
            ("TEHRAN (Reuters) - Iran said", Some("TEHRAN (Reuters) -")),
            (
                "BEIRUT, Lebanon (AP) \u{2014} Israel",
                Some("BEIRUT, Lebanon (AP) \u{2014}"),
            ),
            (
                "WASHINGTON \u{2014} The Senate",
                Some("WASHINGTON \u{2014}"),
            ),
            (
                "NEW YORK, Oct 3 (Reuters) - Stocks",
                Some("NEW YORK, Oct 3 (Reuters) -"),
            ),
            ("NASA said on Monday", None),
            ("Iran\u{2019}s defence minister says", None),
            ("US - China talks", None),
        ];
        for (text, want) in cases {
            let got = rules.dateline(text).map(|n| &text[..n]);
            assert_eq!(got, want, "text {text:?}");
        }
    }
}
