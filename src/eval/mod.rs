//! Evaluation reports run by `lede eval <topic>`: each topic's `run(data_dir, model_dir)`
//! returns the printed report.

pub mod entities;
pub mod tokenizer;
