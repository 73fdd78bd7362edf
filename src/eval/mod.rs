//! Evaluation reports over the shared DEV data, one module per topic; `lede eval <topic>` prints
//! what each `run` returns.

pub mod html;
