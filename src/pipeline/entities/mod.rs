//! The entity stage: spaCy's NER (the model port) and the rule layer run over its output.

pub mod rules;
