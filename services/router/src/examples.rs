//! Labelled examples from CSV or TSV files: `text,label` rows for any label set, or a file
//! with a header and several label columns (the bundled data set has `text`, `category`,
//! `priority`, `feedback_type`).

use std::path::Path;

/// Errors reading an examples file.
#[derive(Debug, thiserror::Error)]
pub enum ExamplesError {
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}: no column named `{column}` (header: {header:?})")]
    NoColumn {
        path: String,
        column: String,
        header: Vec<String>,
    },
    #[error("{path}: a column name was given but the file has no header row starting with `text`")]
    NoHeader { path: String },
    #[error("{path} line {line}: expected at least {need} fields")]
    Short {
        path: String,
        line: usize,
        need: usize,
    },
}

/// Read `(text, label)` pairs. The delimiter is a tab for `.tsv` (or when the first line
/// has a tab), else a comma. A first row whose first field is `text` is a header; without a
/// header the text is column 1 and the label column 2. Blank texts or labels are skipped.
pub fn load(
    path: &Path,
    label_column: Option<&str>,
) -> Result<Vec<(String, String)>, ExamplesError> {
    let raw = std::fs::read_to_string(path).map_err(|e| ExamplesError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let first = raw.lines().next().unwrap_or("");
    let tsv = path.extension().is_some_and(|e| e == "tsv") || first.contains('\t');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(if tsv { b'\t' } else { b',' })
        .quoting(!tsv)
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(raw.as_bytes());
    let mut rows = reader.records();
    let mut out = Vec::new();
    let mut text_col = 0;
    let mut label_col = 1;
    let mut pending_first: Option<csv::StringRecord> = None;
    if let Some(first) = rows.next() {
        let first = first.map_err(|e| ExamplesError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let header: Vec<String> = first.iter().map(|s| s.trim().to_lowercase()).collect();
        if header.first().is_some_and(|h| h == "text") {
            if let Some(name) = label_column {
                label_col = header.iter().position(|h| h == name).ok_or_else(|| {
                    ExamplesError::NoColumn {
                        path: path.display().to_string(),
                        column: name.to_string(),
                        header: header.clone(),
                    }
                })?;
            }
            text_col = 0;
        } else {
            if label_column.is_some() {
                return Err(ExamplesError::NoHeader {
                    path: path.display().to_string(),
                });
            }
            pending_first = Some(first);
        }
    }
    let need = text_col.max(label_col) + 1;
    let records = pending_first.into_iter().map(Ok).chain(rows);
    for (i, rec) in records.enumerate() {
        let rec = rec.map_err(|e| ExamplesError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        if rec.len() < need {
            if rec.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            return Err(ExamplesError::Short {
                path: path.display().to_string(),
                line: i + 1,
                need,
            });
        }
        let text = rec[text_col].trim();
        let label = rec[label_col].trim();
        if !text.is_empty() && !label.is_empty() {
            out.push((text.to_string(), label.to_string()));
        }
    }
    Ok(out)
}
