//! Cross-crate tests live next to this file (`scenarios.rs`, `layering.rs`);
//! the library holds only where the repository is.

pub use testkit::root;
