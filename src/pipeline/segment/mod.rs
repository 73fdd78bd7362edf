//! The `segment` stage.
pub mod sentences;
