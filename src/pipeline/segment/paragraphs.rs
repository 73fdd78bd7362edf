//! Paragraph boundaries: blank lines always, single line breaks when the lines read as
//! separate paragraphs.
//!
//! Blank lines (empty or whitespace-only) always separate paragraphs; HTML comes out of the
//! clean stage that way. News scrapes, the seed article among them, often put a single `\n`
//! between paragraphs, so inside a block of consecutive lines each line starts a paragraph of
//! its own, unless it clearly continues the line before (it starts in lowercase, or the line
//! before stops on a comma, a dash or a title like "Gen."), or the whole block is hard-wrapped
//! text (three or more lines of similar length, the longest 50 to 100 characters, broken mostly
//! mid-sentence), where line breaks mean nothing.

use crate::pipeline::Span;

use super::sentences::{continues, is_hard_wrapped};

/// Splits `text` into paragraph spans (bytes), in order, trimmed of surrounding whitespace,
/// tiling its non-blank text.
///
/// ```
/// use lede::pipeline::segment::paragraphs::split;
/// let text = "Iran and Iraq sign deal\n\nThe ministers met.\nThey signed it.\n";
/// let got: Vec<&str> = split(text).iter().map(|p| &text[p.start..p.end]).collect();
/// assert_eq!(got, ["Iran and Iraq sign deal", "The ministers met.", "They signed it."]);
/// ```
pub fn split(text: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut block: Vec<Span> = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim();
        if body.is_empty() {
            flush(text, &mut block, &mut out);
        } else {
            let start = offset + (line.len() - line.trim_start().len());
            block.push(Span::new(start, start + body.len()));
        }
        offset += line.len();
    }
    flush(text, &mut block, &mut out);
    out
}

/// Turns one block of consecutive non-blank lines into paragraphs.
fn flush(text: &str, block: &mut Vec<Span>, out: &mut Vec<Span>) {
    if block.is_empty() {
        return;
    }
    let lines: Vec<&str> = block.iter().map(|l| &text[l.start..l.end]).collect();
    let wrapped = is_hard_wrapped(&lines);
    let mut current = block[0];
    for pair in block.windows(2) {
        let (prev, next) = (pair[0], pair[1]);
        if wrapped || continues(&text[prev.start..prev.end], &text[next.start..next.end]) {
            current.end = next.end;
        } else {
            out.push(current);
            current = next;
        }
    }
    out.push(current);
    block.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paras(text: &str) -> Vec<&str> {
        split(text).iter().map(|p| &text[p.start..p.end]).collect()
    }

    #[test]
    fn blank_and_whitespace_only_lines_separate() {
        assert_eq!(
            paras("  One.\n \t \nTwo.\n\n\n  Three.  \n"),
            ["One.", "Two.", "Three."]
        );
    }

    #[test]
    fn single_newline_separates_news_paragraphs() {
        assert_eq!(
            paras("Iran’s minister spoke.\n“We won,” he said.\nHeadline Here"),
            [
                "Iran’s minister spoke.",
                "“We won,” he said.",
                "Headline Here"
            ]
        );
    }

    #[test]
    fn lowercase_continuation_joins() {
        assert_eq!(
            paras("The minister said that\nthe talks went well.\nNext paragraph."),
            [
                "The minister said that\nthe talks went well.",
                "Next paragraph."
            ]
        );
    }

    #[test]
    fn table_rows_starting_with_digits_stay_apart() {
        assert_eq!(
            paras("Pos. Driver Points\n1 Kyle Busch 5040\n2 Martin Truex Jr. 5035"),
            [
                "Pos. Driver Points",
                "1 Kyle Busch 5040",
                "2 Martin Truex Jr. 5035"
            ]
        );
    }

    #[test]
    fn line_after_a_title_continues() {
        assert_eq!(
            paras("The ceremony was attended by Brig. Gen.\nAmir Hatami and others."),
            ["The ceremony was attended by Brig. Gen.\nAmir Hatami and others."]
        );
    }

    #[test]
    fn hard_wrapped_block_is_one_paragraph() {
        let text = "The Iranian defence chief said his trip to Iraq comes at a time\n\
                    when the country is recovering. He added that the ISIS group was\n\
                    defeated. Iraq owes its victory to the unity of its people and\n\
                    army.\n\nSecond paragraph.";
        let got = paras(text);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].ends_with("army."));
    }

    #[test]
    fn empty_and_blank_text_have_no_paragraphs() {
        assert!(split("").is_empty());
        assert!(split(" \n\t\n  ").is_empty());
    }
}
