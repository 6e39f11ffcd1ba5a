//! The console's api client is generated from `services/console/openapi.json`; a stale copy would let
//! the console drift from the api without a compile error, so this fails until it is exported again.

#[test]
fn the_consoles_copy_of_the_openapi_document_is_current() {
    let path = api::openapi::console_copy();
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} cannot be read: {e}", path.display()));
    let current = api::openapi::pretty_document().expect("the document serialises");
    let committed: serde_json::Value =
        serde_json::from_str(&committed).expect("the committed copy is JSON");
    let current: serde_json::Value = serde_json::from_str(&current).expect("the document is JSON");
    assert!(
        committed == current,
        "services/console/openapi.json is stale: run `cargo run -p loopdesk-api --bin export-openapi` \
         and `npm run gen:api` in services/console"
    );
}
