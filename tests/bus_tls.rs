//! The bus over TLS (`nats.tls_ca_file`, issue 19 item 15): a worker that trusts the server's CA
//! connects, publishes, reads and makes its streams over an encrypted connection; a client without
//! that CA, with another CA, or without TLS at all never gets a connection. Certificates are made
//! for the test; the server is a private one on its own port.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
use shared::config::NatsSettings;
use shared::subjects::Subjects;
use system::servers::PrivateNats;

/// A CA and, when `server` is set, a certificate for 127.0.0.1 it signed: (CA file, cert, key).
fn authority(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA signs itself");
    let key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("server params");
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    let cert = params.signed_by(&key, &ca, &ca_key).expect("CA signs");
    let paths = (
        dir.join(format!("{name}-ca.pem")),
        dir.join(format!("{name}-server.pem")),
        dir.join(format!("{name}-server-key.pem")),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

fn settings(url: String, ca: Option<PathBuf>) -> NatsSettings {
    NatsSettings {
        url,
        stream_replicas: 1,
        max_deliver: 5,
        ack_wait_secs: 5,
        batch_size: 100,
        linger_ms: 0,
        user: None,
        password: None,
        tls_ca_file: ca,
    }
}

/// Whether a client reaches the server within a few seconds (the bus keeps retrying in the
/// background, so a refused client is one that never gets there).
async fn reaches(settings: &NatsSettings) -> bool {
    let Ok((client, _)) = shared::bus::connect(settings).await else {
        return false;
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(4), client.flush()).await,
        Ok(Ok(()))
    ) && client.connection_state() == async_nats::connection::State::Connected
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_client_trusting_the_servers_ca_gets_a_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = authority(dir.path(), "loopdesk");
    let (stranger, _, _) = authority(dir.path(), "stranger");
    let server = PrivateNats::start_with_config(
        &format!(
            "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  timeout: 2\n}}\n",
            cert.display(),
            key.display()
        ),
        Vec::new(),
    );
    let tls_url = format!("tls://127.0.0.1:{}", server.port);

    let trusted = settings(tls_url.clone(), Some(ca));
    let (client, js) = shared::bus::connect(&trusted)
        .await
        .expect("connects over TLS");
    let mut inbox = client.subscribe("tls.check").await.unwrap();
    client
        .publish("tls.check", "加密的反馈".into())
        .await
        .unwrap();
    client.flush().await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), inbox.next())
        .await
        .expect("the message comes back")
        .expect("subscription open");
    assert_eq!(&got.payload[..], "加密的反馈".as_bytes());
    let subjects = Subjects::new(format!("tls{}", uuid::Uuid::new_v4().simple()));
    shared::bus::ensure_streams(&js, &subjects, 1)
        .await
        .expect("JetStream streams are made over TLS");

    assert!(
        !reaches(&settings(tls_url.clone(), None)).await,
        "without the CA the server's certificate is not trusted"
    );
    assert!(
        !reaches(&settings(tls_url, Some(stranger))).await,
        "another CA does not vouch for this server"
    );
    assert!(
        !reaches(&settings(server.url(), None)).await,
        "a plain client is refused by a server that requires TLS"
    );
}
