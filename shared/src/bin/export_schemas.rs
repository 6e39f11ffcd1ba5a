//! Writes the JSON Schema of every bus message to `shared/schemas/` (or the directory given).

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas"));
    std::fs::create_dir_all(&dir)?;
    for (name, schema) in shared::schema_export::all() {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, shared::schema_export::render(&schema))?;
        println!("{}", path.display());
    }
    Ok(())
}
