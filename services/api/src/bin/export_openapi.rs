//! Writes the api's OpenAPI document, the contract the console's client is typed from:
//! `cargo run -p loopdesk-api --bin export-openapi [PATH]` (default `services/console/openapi.json`;
//! `-` prints it).

use utoipa::OpenApi;

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "services/console/openapi.json".into());
    let mut doc = api::openapi::ApiDoc::openapi().to_pretty_json()?;
    doc.push('\n');
    if path == "-" {
        print!("{doc}");
    } else {
        std::fs::write(&path, doc)?;
        eprintln!("wrote {path}");
    }
    Ok(())
}
