//! Evaluation reports (`lede eval <topic>`): each module's `run` returns the printed report.

pub mod entrules;
