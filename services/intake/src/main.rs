//! The intake binary: [`shared::runtime::main`] over [`intake::startup::Intake`].

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::runtime::main::<intake::startup::Intake>().await
}
