//! Cross-crate tests live next to this file (`scenarios.rs`, `layering.rs`);
//! the library holds only where the repository is.

use std::path::PathBuf;

/// The repository's root, from the folder cargo names when it runs the test,
/// not the one the binary was built in: clones share one target directory,
/// and cargo may reuse a test binary another clone built.
pub fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("..")
}
