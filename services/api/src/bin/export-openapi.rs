//! Writes the api's OpenAPI document, the contract the console's typed client is generated from.
//!
//! `cargo run -p loopdesk-api --bin export-openapi` writes `services/console/openapi.json`;
//! `… -- PATH` writes PATH instead, `… -- -` writes to standard output. The console then runs
//! `npm run gen:api`; `tests/openapi.rs` fails while the committed file is stale.

use anyhow::Context;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let json = api::openapi::pretty_document().context("serialising the OpenAPI document")?;
    match std::env::args().nth(1).as_deref() {
        Some("-") => print!("{json}"),
        other => {
            let path = other.map(PathBuf::from).unwrap_or_else(api::openapi::console_copy);
            std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(())
}
