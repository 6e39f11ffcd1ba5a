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

/// openapi-typescript (and any other generator) refuses a document whose `$ref` points nowhere.
#[test]
fn every_reference_in_the_openapi_document_resolves() {
    let doc: serde_json::Value =
        serde_json::from_str(&api::openapi::pretty_document().expect("serialises")).expect("JSON");
    fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("$ref", serde_json::Value::String(r)) => out.push(r),
                        _ => refs(x, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    refs(&doc, &mut found);
    let dangling: Vec<&str> = found
        .into_iter()
        .filter(|r| {
            let pointer = r.trim_start_matches('#');
            doc.pointer(pointer).is_none()
        })
        .collect();
    assert!(dangling.is_empty(), "references to nothing: {dangling:?}");
}

/// Generated clients key operations by id: two operations with one id give one of them the other's types.
#[test]
fn every_operation_id_is_unique() {
    let doc: serde_json::Value =
        serde_json::from_str(&api::openapi::pretty_document().expect("serialises")).expect("JSON");
    let mut seen = std::collections::HashMap::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            if let Some(id) = op.get("operationId").and_then(|v| v.as_str()) {
                if let Some(other) = seen.insert(id.to_string(), format!("{method} {path}")) {
                    panic!("operationId {id} is used by {other} and {method} {path}");
                }
            }
        }
    }
}
