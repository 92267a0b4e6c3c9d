//! Cross-crate tests live next to this file (`scenarios.rs`, `layering.rs`);
//! the library itself is empty.
