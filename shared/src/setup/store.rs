//! Reading and writing `setup_documents`.
//!
//! Writers take one transaction-scoped advisory lock, so two saves never pick the same version number
//! and a check across kinds sees the state it is about to change (a department removed while a route
//! to it is added is refused, whatever the order).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Row};

use super::diff::{self, Change};
use super::documents::{Department, Departments, Named, Route, RouteWhen, Setup};
use super::{Kind, Problem, SetupError};

/// One stored version of a kind.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Versioned {
    pub kind: Kind,
    pub version: i32,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub body: Value,
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub note: String,
}

/// The outcome of a save or rollback.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Saved {
    pub kind: Kind,
    /// The version now current.
    pub version: i32,
    /// False when the document equalled the current one: no version was added.
    pub changed: bool,
}

/// One version in a kind's history, with what changed from the version before it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryEntry {
    pub version: i32,
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub note: String,
    /// Empty for the first version.
    pub changes: Vec<Change>,
}

/// A category [`add_categories`] created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddedCategory {
    pub code: String,
    /// The label as the team wrote it (the category's Chinese name).
    pub label: String,
    /// The department its new route sends tickets to.
    pub department: String,
}

const SEED_AUTHOR: &str = "seed";

async fn lock(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_advisory_xact_lock(hashtext('loopdesk.setup_documents'))")
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores version 1 of every kind that has none, from the files in `config/`. Concurrent callers are
/// harmless: the primary key keeps the first.
async fn seed_missing(conn: &mut PgConnection) -> Result<(), SetupError> {
    let defaults = Setup::defaults();
    for kind in Kind::ALL {
        sqlx::query(
            "insert into setup_documents (kind, version, body, author, note)
             values ($1, 1, $2, $3, 'first-start defaults from config/')
             on conflict do nothing",
        )
        .bind(kind.as_str())
        .bind(defaults.body(kind))
        .bind(SEED_AUTHOR)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The current version number of every kind (what a replica compares to know it is behind).
pub async fn versions(pool: &PgPool) -> Result<BTreeMap<Kind, i32>, SetupError> {
    let rows = sqlx::query("select kind, max(version) as v from setup_documents group by kind")
        .fetch_all(pool)
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| Some((Kind::parse(r.get::<&str, _>("kind"))?, r.get::<i32, _>("v"))))
        .collect())
}

/// The current setup, every kind read in one statement (seeding kinds never saved).
pub async fn load(pool: &PgPool) -> Result<Setup, SetupError> {
    let mut conn = pool.acquire().await?;
    load_in(&mut conn).await
}

/// [`load`] on the caller's connection (inside its transaction).
pub async fn load_in(conn: &mut PgConnection) -> Result<Setup, SetupError> {
    let mut rows = current_rows(conn).await?;
    if rows.len() < Kind::ALL.len() {
        seed_missing(conn).await?;
        rows = current_rows(conn).await?;
    }
    let mut setup = Setup::defaults();
    for (kind, (version, body)) in rows {
        setup
            .replace(kind, &body)
            .map_err(|p| SetupError::Corrupt {
                kind,
                version,
                message: p.message,
            })?;
        setup.versions.insert(kind, version);
    }
    Ok(setup)
}

async fn current_rows(conn: &mut PgConnection) -> Result<BTreeMap<Kind, (i32, Value)>, SetupError> {
    let rows = sqlx::query(
        "select distinct on (kind) kind, version, body from setup_documents order by kind, version desc",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let kind = Kind::parse(r.get::<&str, _>("kind"))?;
            Some((
                kind,
                (r.get::<i32, _>("version"), r.get::<Value, _>("body")),
            ))
        })
        .collect())
}

/// One version of a kind (the current one when `version` is `None`).
pub async fn version(
    pool: &PgPool,
    kind: Kind,
    version: Option<i32>,
) -> Result<Option<Versioned>, SetupError> {
    if version.is_none() {
        // Reading the current document of a kind never saved seeds it first.
        load(pool).await?;
    }
    let row = sqlx::query(
        "select version, body, author, created_at, note from setup_documents
         where kind = $1 and ($2::int is null or version = $2)
         order by version desc limit 1",
    )
    .bind(kind.as_str())
    .bind(version)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Versioned {
        kind,
        version: r.get("version"),
        body: r.get("body"),
        author: r.get("author"),
        created_at: r.get("created_at"),
        note: r.get("note"),
    }))
}

async fn insert(
    conn: &mut PgConnection,
    kind: Kind,
    version: i32,
    body: &Value,
    author: &str,
    note: &str,
) -> Result<(), SetupError> {
    sqlx::query(
        "insert into setup_documents (kind, version, body, author, note) values ($1, $2, $3, $4, $5)",
    )
    .bind(kind.as_str())
    .bind(version)
    .bind(body)
    .bind(author)
    .bind(note)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replace the current document of `kind` with `body` after checking the whole setup it would make.
/// Saving the document that is already current adds no version.
pub async fn save(
    pool: &PgPool,
    kind: Kind,
    body: &Value,
    author: &str,
    note: &str,
) -> Result<Saved, SetupError> {
    let mut saved = save_together(pool, &[(kind, body.clone())], author, note).await?;
    Ok(saved.remove(0))
}

/// Replace several kinds' documents at once, checked as the one setup they make together: a new
/// category and the route that serves it, or a department and the routes that name it, which each
/// document alone would break. All are saved or none; an unchanged document adds no version.
pub async fn save_together(
    pool: &PgPool,
    documents: &[(Kind, Value)],
    author: &str,
    note: &str,
) -> Result<Vec<Saved>, SetupError> {
    let mut tx = pool.begin().await?;
    lock(&mut tx).await?;
    let mut setup = load_in(&mut tx).await?;
    let departments_before = setup.departments.clone();
    let before: Vec<Value> = documents
        .iter()
        .map(|(kind, _)| setup.body(*kind))
        .collect();
    for (kind, body) in documents {
        setup
            .replace(*kind, body)
            .map_err(|p| SetupError::Refused(vec![p]))?;
    }
    refuse_if_broken(&mut tx, &departments_before, &setup).await?;
    let mut saved = Vec::with_capacity(documents.len());
    for ((kind, _), before) in documents.iter().zip(before) {
        let current = setup.versions.get(kind).copied().unwrap_or(0);
        // The typed document, not the caller's text: defaults filled in, one spelling of each key.
        let normalised = setup.body(*kind);
        if before == normalised {
            saved.push(Saved {
                kind: *kind,
                version: current,
                changed: false,
            });
            continue;
        }
        insert(&mut tx, *kind, current + 1, &normalised, author, note).await?;
        saved.push(Saved {
            kind: *kind,
            version: current + 1,
            changed: true,
        });
    }
    tx.commit().await?;
    Ok(saved)
}

/// Refuses `setup` when it is broken in itself, or when it removes one of `departments_before` that
/// a route still sends tickets to or people still work in: they would be left in a department that no
/// longer exists, seeing nothing. A removal is named as such (`department_in_route`,
/// `department_has_people`) rather than as the route's `unknown_department` it would cause.
async fn refuse_if_broken(
    conn: &mut PgConnection,
    departments_before: &Departments,
    setup: &Setup,
) -> Result<(), SetupError> {
    let gone: Vec<_> = departments_before
        .departments
        .iter()
        .filter(|d| !setup.departments.has(&d.code))
        .collect();
    // A route naming a removed department is found by the routing check (`unknown_department` at
    // `routes[i].departments[j]`); here it is said for what it is, a removal the route still needs.
    let mut problems: Vec<Problem> = setup
        .problems()
        .into_iter()
        .map(|p| {
            let removed = gone
                .iter()
                .find(|d| p.subject.as_deref() == Some(d.code.as_str()));
            match removed {
                Some(d) if p.kind == Kind::Routing && p.code == "unknown_department" => {
                    department_in_route(&p.path, d)
                }
                _ => p,
            }
        })
        .collect();
    // A department listed twice in one route is one removal to undo.
    problems.dedup();
    for gone in gone {
        // A person's department is stored as its code; names are accepted too where people type it.
        let people: i64 = sqlx::query_scalar(
            "select count(*) from api_users
             where disabled_at is null and department in ($1, $2, $3)",
        )
        .bind(&gone.code)
        .bind(&gone.name_zh)
        .bind(&gone.name_en)
        .fetch_one(&mut *conn)
        .await?;
        if people > 0 {
            problems.push(Problem::new(
                Kind::Departments,
                "department_has_people",
                "departments",
                Some(&gone.code),
                format!(
                    "{people} people still work in `{}` ({}): move them to another department first",
                    gone.code, gone.name_zh
                ),
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SetupError::Refused(problems))
    }
}

/// The refusal of removing `department` while the route at `path` (`routes[i]...`) sends tickets to it.
fn department_in_route(path: &str, department: &Department) -> Problem {
    let route = path.split('.').next().unwrap_or(path);
    let number = route
        .trim_start_matches("routes[")
        .trim_end_matches(']')
        .parse::<usize>()
        .map_or_else(|_| route.to_string(), |i| (i + 1).to_string());
    Problem::new(
        Kind::Departments,
        "department_in_route",
        route,
        Some(&department.code),
        format!(
            "route {number} still sends tickets to `{}` ({}): change the route first",
            department.code, department.name_zh
        ),
    )
}

/// One step back: the version before the current one becomes current again, as a new version (the
/// history keeps the step), provided the setup it makes with the other kinds is still sound.
pub async fn rollback(pool: &PgPool, kind: Kind, author: &str) -> Result<Saved, SetupError> {
    let mut tx = pool.begin().await?;
    lock(&mut tx).await?;
    let mut setup = load_in(&mut tx).await?;
    let departments_before = setup.departments.clone();
    let current = setup.versions.get(&kind).copied().unwrap_or(0);
    // The newest earlier version that differs from the current one (saving an unchanged document adds
    // no version, but a rollback can make two versions equal): rolling back twice undoes the rollback.
    let rows = sqlx::query(
        "select version, body from setup_documents where kind = $1 order by version desc",
    )
    .bind(kind.as_str())
    .fetch_all(&mut *tx)
    .await?;
    let bodies: Vec<(i32, Value)> = rows
        .iter()
        .map(|r| (r.get("version"), r.get("body")))
        .collect();
    let Some((cur_body, rest)) = bodies.split_first().map(|((_, b), rest)| (b, rest)) else {
        return Err(SetupError::NoEarlierVersion(kind));
    };
    let Some((target, body)) = rest.iter().find(|(_, b)| b != cur_body).cloned() else {
        return Err(SetupError::NoEarlierVersion(kind));
    };
    setup
        .replace(kind, &body)
        .map_err(|p| SetupError::Corrupt {
            kind,
            version: target,
            message: p.message,
        })?;
    refuse_if_broken(&mut tx, &departments_before, &setup).await?;
    insert(
        &mut tx,
        kind,
        current + 1,
        &body,
        author,
        &format!("rollback to version {target}"),
    )
    .await?;
    tx.commit().await?;
    Ok(Saved {
        kind,
        version: current + 1,
        changed: true,
    })
}

/// The newest `limit` versions of a kind, newest first, each with its difference from the one before.
pub async fn history(
    pool: &PgPool,
    kind: Kind,
    limit: i64,
) -> Result<Vec<HistoryEntry>, SetupError> {
    load(pool).await?;
    let rows = sqlx::query(
        "select version, body, author, created_at, note from setup_documents
         where kind = $1 order by version desc limit $2",
    )
    .bind(kind.as_str())
    .bind(limit.clamp(1, 500) + 1)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        if i as i64 >= limit.clamp(1, 500) {
            break;
        }
        let body: Value = r.get("body");
        let version: i32 = r.get("version");
        let changes = match rows.get(i + 1) {
            Some(prev) if prev.get::<i32, _>("version") == version - 1 => {
                diff::diff(&prev.get::<Value, _>("body"), &body)
            }
            _ => Vec::new(),
        };
        out.push(HistoryEntry {
            version,
            author: r.get("author"),
            created_at: r.get("created_at"),
            note: r.get("note"),
            changes,
        });
    }
    Ok(out)
}

/// A code for a label a team wrote: the label itself with blanks joined by `_` (a team's own label is
/// its best code; Chinese codes are fine everywhere a code goes), made unique among `taken`.
fn code_for(label: &str, taken: &[String]) -> String {
    let base: String = label
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
        .chars()
        .filter(|c| !c.is_control())
        .take(60)
        .collect::<String>()
        .to_lowercase();
    let mut code = base.clone();
    let mut n = 2;
    while taken.iter().any(|t| t == &code) {
        code = format!("{base}_{n}");
        n += 1;
    }
    code
}

/// Adds a team's own problem-type labels as categories, each with a route to `department` (the default
/// department when `None`), in one new version of the taxonomy and of the routing table. Labels that
/// already name a category (by code, Chinese or English name) or are blank are skipped. Returns what
/// was added, in the order given.
pub async fn add_categories(
    pool: &PgPool,
    labels: &[String],
    department: Option<&str>,
    author: &str,
) -> Result<Vec<AddedCategory>, SetupError> {
    let mut tx = pool.begin().await?;
    let added = add_categories_in(&mut tx, labels, department, author).await?;
    tx.commit().await?;
    Ok(added)
}

/// [`add_categories`] inside the caller's transaction (an import adds its labels and its tickets
/// together, or neither). Holds the setup lock until that transaction ends.
pub async fn add_categories_in(
    conn: &mut PgConnection,
    labels: &[String],
    department: Option<&str>,
    author: &str,
) -> Result<Vec<AddedCategory>, SetupError> {
    lock(conn).await?;
    let mut setup = load_in(conn).await?;
    let department = department
        .map(str::to_string)
        .unwrap_or_else(|| setup.departments.default_department.clone());
    let mut added = Vec::new();
    for label in labels {
        let label = label.trim();
        if label.is_empty() || setup.taxonomy.find_category(label).is_some() {
            continue;
        }
        let taken: Vec<String> = setup
            .taxonomy
            .categories
            .iter()
            .map(|c| c.code.clone())
            .collect();
        let code = code_for(label, &taken);
        setup.taxonomy.categories.push(Named {
            code: code.clone(),
            name_zh: label.to_string(),
            name_en: String::new(),
        });
        setup.routing.routes.push(Route {
            when: RouteWhen {
                category: Some(code.clone()),
                ..RouteWhen::default()
            },
            departments: vec![department.clone()],
            lead: None,
            stop: false,
        });
        added.push(AddedCategory {
            code,
            label: label.to_string(),
            department: department.clone(),
        });
    }
    if added.is_empty() {
        return Ok(added);
    }
    // Only categories and routes are added: no department goes.
    refuse_if_broken(&mut *conn, &setup.departments, &setup).await?;
    let note = format!(
        "categories added: {}",
        added
            .iter()
            .map(|a| a.label.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for kind in [Kind::Taxonomy, Kind::Routing] {
        let next = setup.versions.get(&kind).copied().unwrap_or(0) + 1;
        insert(conn, kind, next, &setup.body(kind), author, &note).await?;
    }
    Ok(added)
}
