//! The difference between two versions of a document, as a list a person can read: which entry (by its
//! code, where the list has codes) was added, removed or changed, and how.

use serde::Serialize;
use serde_json::Value;

/// One difference between two versions.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    /// Where, e.g. `categories[technical_fault].name_en` or `routes[3].departments`.
    pub path: String,
    /// `added`, `removed` or `changed`.
    pub op: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// What changed from `before` to `after`.
pub fn diff(before: &Value, after: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk("", before, after, &mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The `code` of a list entry, when entries are identified by one.
fn code(v: &Value) -> Option<&str> {
    v.get("code").and_then(Value::as_str)
}

fn walk(path: &str, before: &Value, after: &Value, out: &mut Vec<Change>) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                match b.get(k) {
                    Some(vb) => walk(&join(path, k), va, vb, out),
                    None => out.push(Change {
                        path: join(path, k),
                        op: "removed",
                        before: Some(va.clone()),
                        after: None,
                    }),
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    out.push(Change {
                        path: join(path, k),
                        op: "added",
                        before: None,
                        after: Some(vb.clone()),
                    });
                }
            }
        }
        // Lists of coded entries (categories, departments) are compared by code, so inserting one
        // entry reads as one addition, not as every later entry changed.
        (Value::Array(a), Value::Array(b))
            if a.iter().chain(b.iter()).all(|v| code(v).is_some()) =>
        {
            for va in a {
                let c = code(va).unwrap_or_default();
                let at = format!("{path}[{c}]");
                match b.iter().find(|vb| code(vb) == Some(c)) {
                    Some(vb) => walk(&at, va, vb, out),
                    None => out.push(Change {
                        path: at,
                        op: "removed",
                        before: Some(va.clone()),
                        after: None,
                    }),
                }
            }
            for vb in b {
                let c = code(vb).unwrap_or_default();
                if !a.iter().any(|va| code(va) == Some(c)) {
                    out.push(Change {
                        path: format!("{path}[{c}]"),
                        op: "added",
                        before: None,
                        after: Some(vb.clone()),
                    });
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for i in 0..a.len().max(b.len()) {
                let at = format!("{path}[{i}]");
                match (a.get(i), b.get(i)) {
                    (Some(va), Some(vb)) => walk(&at, va, vb, out),
                    (Some(va), None) => out.push(Change {
                        path: at,
                        op: "removed",
                        before: Some(va.clone()),
                        after: None,
                    }),
                    (None, Some(vb)) => out.push(Change {
                        path: at,
                        op: "added",
                        before: None,
                        after: Some(vb.clone()),
                    }),
                    (None, None) => {}
                }
            }
        }
        _ => out.push(Change {
            path: path.to_string(),
            op: "changed",
            before: Some(before.clone()),
            after: Some(after.clone()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coded_lists_differ_by_code() {
        let a =
            json!({"categories": [{"code": "a", "name_zh": "甲"}, {"code": "b", "name_zh": "乙"}]});
        let b = json!({"categories": [{"code": "c", "name_zh": "丙"}, {"code": "a", "name_zh": "甲!"}]});
        let d = diff(&a, &b);
        let paths: Vec<(&str, &str)> = d.iter().map(|c| (c.path.as_str(), c.op)).collect();
        assert_eq!(
            paths,
            vec![
                ("categories[a].name_zh", "changed"),
                ("categories[b]", "removed"),
                ("categories[c]", "added")
            ]
        );
    }
}
