//! Evaluation reports, one module per topic; `lede eval <topic>` prints them.
pub mod sentences;
