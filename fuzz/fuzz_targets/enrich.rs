//! Fuzz target: the whole per-message function (`enrich_payload`), with no stages and with the
//! longest prefix of the stage list this build can construct without model files, on arbitrary
//! bytes: a valid record or a known rejection.
#![no_main]

use std::sync::LazyLock;

use lede::enrich::enrich_payload;
use lede::pipeline::{self, Pipeline, StageOptions};
use libfuzzer_sys::fuzz_target;

static PIPELINES: LazyLock<Vec<Pipeline>> = LazyLock::new(|| {
    let names: Vec<String> = pipeline::STAGE_NAMES
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let mut out = vec![Pipeline::new(vec![], false)];
    // The longest prefix of the stage list that builds without model files.
    if let Some(longest) = (1..=names.len())
        .rev()
        .find_map(|k| pipeline::build(&names[..k], &StageOptions::default()).ok())
    {
        out.push(longest);
    }
    out
});

fuzz_target!(|data: &[u8]| {
    for pipeline in PIPELINES.iter() {
        match enrich_payload(pipeline, data, 1 << 20) {
            Ok(enriched) => {
                let record: serde_json::Value =
                    serde_json::from_slice(&enriched.record).expect("the record is JSON");
                assert_eq!(record["id"].as_str(), Some(enriched.id.as_str()));
            }
            Err(rejection) => assert!(!rejection.message.is_empty()),
        }
    }
});
