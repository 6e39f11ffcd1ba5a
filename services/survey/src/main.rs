//! The survey binary: [`shared::runtime::main`] over [`survey::startup::Survey`].

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::runtime::main::<survey::startup::Survey>().await
}
