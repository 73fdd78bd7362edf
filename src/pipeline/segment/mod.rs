//! Segmentation: paragraphs, sentences and spaCy-identical tokens.
//!
//! [`tokenizer`] is a port of spaCy's rule-based English tokenizer, driven by the rules stored
//! in the model directory.

pub mod tokenizer;
