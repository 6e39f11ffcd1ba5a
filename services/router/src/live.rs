//! The engine in force, and its hot reload.
//!
//! Workers read the current [`Engine`] through an `Arc` snapshot, so a decision never mixes two rule
//! versions. A watcher polls the config files' modification time and size; on a change it builds a
//! complete new engine and swaps it in. A broken file is refused with the error logged and kept in
//! [`Live::last_error`]; the previous engine stays live.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::decision::{ConfigFiles, Engine};
use crate::labels::Dimension;
use crate::model::TextModel;
use crate::ConfigError;

/// (modification time, length) of each watched file.
type Stamps = Vec<Option<(SystemTime, u64)>>;

/// The live engine plus what the watcher needs.
pub struct Live {
    dir: PathBuf,
    engine: RwLock<Arc<Engine>>,
    stamps: Mutex<Stamps>,
    last_error: Mutex<Option<String>>,
    /// Successful reloads since start, for tests and metrics.
    reloads: Mutex<u64>,
    /// The category model an admin adopted (version, model): it outlives reloads of the files.
    adopted: Mutex<Option<(String, TextModel)>>,
    /// The business's setup (lists and routing) laid over the files' defaults, once the replica has
    /// read it from the database; every engine built afterwards carries it.
    setup: RwLock<Option<Arc<shared::setup::Setup>>>,
}

fn stamp(p: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl Live {
    /// Load the engine from `dir`; refuses to start on a broken config.
    pub fn load(dir: &Path) -> Result<Arc<Self>, ConfigError> {
        let engine = Engine::load(dir)?;
        let live = Arc::new(Self {
            dir: dir.to_path_buf(),
            stamps: Mutex::new(Vec::new()),
            engine: RwLock::new(Arc::new(engine)),
            last_error: Mutex::new(None),
            reloads: Mutex::new(0),
            adopted: Mutex::new(None),
            setup: RwLock::new(None),
        });
        let s = live.current_stamps();
        if let Ok(mut g) = live.stamps.lock() {
            *g = s;
        }
        Ok(live)
    }

    fn watched(&self) -> Vec<PathBuf> {
        let files = ConfigFiles::new(&self.dir);
        let mut v = vec![files.labels(), files.rules(), files.routing()];
        let engine = self.current();
        for d in Dimension::ALL {
            v.push(files.model(&engine.labels, d));
        }
        v
    }

    fn current_stamps(&self) -> Stamps {
        self.watched().iter().map(|p| stamp(p)).collect()
    }

    /// The engine in force.
    pub fn current(&self) -> Arc<Engine> {
        match self.engine.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The error of the last refused reload, if the last attempt failed.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|g| g.clone())
    }

    /// Successful reloads so far.
    pub fn reloads(&self) -> u64 {
        self.reloads.lock().map(|g| *g).unwrap_or(0)
    }

    /// Reload if any watched file changed. Returns `Some(result)` when it tried.
    pub fn check(&self) -> Option<Result<(), ConfigError>> {
        let now = self.current_stamps();
        let changed = self.stamps.lock().map(|g| *g != now).unwrap_or(true);
        if !changed {
            return None;
        }
        if let Ok(mut g) = self.stamps.lock() {
            *g = now;
        }
        Some(self.reload_now())
    }

    /// Build a new engine from the files and swap it in, or keep the old one on error.
    pub fn reload_now(&self) -> Result<(), ConfigError> {
        let setup = self.setup.read().ok().and_then(|g| g.clone());
        let loaded = Engine::load(&self.dir).map(|e| match &setup {
            Some(s) => e.with_setup(s),
            None => e,
        });
        match loaded {
            Ok(engine) => {
                let adopted = self.adopted.lock().ok().and_then(|g| g.clone());
                let engine = match adopted {
                    Some((version, model)) => engine.with_category_model(model, version),
                    None => engine,
                };
                // Bookkeeping first, so whoever sees the new engine also sees it counted.
                if let Ok(mut e) = self.last_error.lock() {
                    *e = None;
                }
                if let Ok(mut n) = self.reloads.lock() {
                    *n += 1;
                }
                if let Ok(mut g) = self.engine.write() {
                    *g = Arc::new(engine);
                }
                tracing::info!(dir = %self.dir.display(), "router config reloaded");
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "router config refused; the previous rules and routing stay live");
                if let Ok(mut g) = self.last_error.lock() {
                    *g = Some(e.to_string());
                }
                Err(e)
            }
        }
    }

    /// Make `model` the live category model (an adopted one): decisions from now on use it and record
    /// `version`; a later reload of the config files keeps it.
    pub fn adopt(&self, model: TextModel, version: String) {
        if let Ok(mut g) = self.adopted.lock() {
            *g = Some((version.clone(), model.clone()));
        }
        let engine = self.current().with_category_model(model, version.clone());
        if let Ok(mut g) = self.engine.write() {
            *g = Arc::new(engine);
        }
        tracing::info!(%version, "category model adopted");
    }

    /// Lay the business's setup over the engine in force (its lists and routing table), now and on every
    /// later reload. Rules and models stay as they are.
    pub fn apply_setup(&self, setup: shared::setup::Setup) {
        let engine = self.current().with_setup(&setup);
        if let Ok(mut g) = self.setup.write() {
            *g = Some(Arc::new(setup));
        }
        if let Ok(mut n) = self.reloads.lock() {
            *n += 1;
        }
        if let Ok(mut g) = self.engine.write() {
            *g = Arc::new(engine);
        }
        tracing::info!("router setup applied");
    }

    /// The versions of the setup in force, if one was applied.
    pub fn setup_versions(&self) -> Option<std::collections::BTreeMap<shared::setup::Kind, i32>> {
        self.setup
            .read()
            .ok()
            .and_then(|g| g.as_ref().map(|s| s.versions.clone()))
    }

    /// Poll for changes every `every` until shutdown. Loading runs on a blocking thread
    /// (dictionary and model parsing take a few hundred milliseconds).
    pub async fn watch(self: Arc<Self>, every: Duration, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            let me = self.clone();
            let _ = tokio::task::spawn_blocking(move || me.check()).await;
        }
    }
}
