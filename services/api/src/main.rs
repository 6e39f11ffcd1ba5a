//! The api binary: [`shared::runtime::main`] over [`api::Api`].

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::runtime::main::<api::Api>().await
}
