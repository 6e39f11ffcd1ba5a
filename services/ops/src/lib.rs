//! What ops need beside the workers: what the streams and consumers hold, the dead letters and their
//! replay after a fix, and the demo feed that pushes one example per channel through the pipeline.

pub mod dead_letters;
pub mod demo;
pub mod seed;
pub mod status;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("NATS: {0}")]
    Nats(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Input(String),
}

impl OpsError {
    pub fn nats(e: impl std::fmt::Display) -> Self {
        OpsError::Nats(e.to_string())
    }
}
