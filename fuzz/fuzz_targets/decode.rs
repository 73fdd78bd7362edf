//! Fuzz target: `RawArticle::decode` on arbitrary bytes never panics, and what it accepts has
//! content and an id.
#![no_main]

use lede::record::RawArticle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(article) = RawArticle::decode(data, 1 << 20) {
        assert!(article.text.is_some() || article.html.is_some());
        assert!(!article.id.is_empty());
    }
});
