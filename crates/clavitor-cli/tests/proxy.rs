//! `clavitor-cli proxy`, `proxy ca` and `env` over the clavitor-proxy library.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use common::*;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn proxy_ca_and_env() {
    let agent = Agent::new();
    let (code, stdout, stderr) = agent.run(&["proxy", "ca"]);
    assert_eq!(code, 0, "{stderr}");
    let path = stdout.trim_end();
    assert_eq!(
        path,
        agent
            .config_dir()
            .join("proxy/ca.pem")
            .display()
            .to_string()
    );
    assert!(
        std::fs::read_to_string(path)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    assert_eq!(mode(&agent.config_dir().join("proxy/ca.key")), 0o600);
    let (code, pem, _) = agent.run(&["proxy", "ca", "--pem"]);
    assert_eq!(code, 0);
    assert_eq!(pem, std::fs::read_to_string(path).unwrap());
    let (code, env, _) = agent.run(&["env"]);
    assert_eq!(code, 0);
    assert!(
        env.contains("export HTTPS_PROXY='http://localhost:1983'\n"),
        "{env}"
    );
    assert!(env.contains("export SSL_CERT_FILE='"), "{env}");
    assert!(env.contains("export NO_PROXY="), "{env}");
    let (code, fish, _) = agent.run(&["env", "--shell", "fish"]);
    assert_eq!(code, 0);
    assert!(
        fish.contains("set -gx HTTPS_PROXY 'http://localhost:1983';"),
        "{fish}"
    );
}

#[test]
fn proxy_injects_through_the_vault_and_refuses_ungranted() {
    let (vault, agent) = guide_setup();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(cli_bin())
        .args(["proxy", "--listen", &format!("127.0.0.1:{port}")])
        .env("HOME", agent.home.path())
        .env("CLAVITOR_CONFIG_DIR", agent.config_dir())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    // Keep reading end open for the proxy's life: a closed pipe would make
    // its later log lines fail.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    stderr.read_line(&mut line).unwrap();
    let _proxy = Running(child);
    assert!(line.contains("listening on"), "{line}");

    let ca = std::fs::read(agent.config_dir().join("proxy/ca.pem")).unwrap();
    let http = proxied_client(port, &ca);
    let status = block_on(async {
        let res = http
            .get("https://api.openai.com/v1/models")
            .header("Authorization", "Bearer clavitor://Stripe%20API/key")
            .send()
            .await
            .unwrap();
        (
            res.status().as_u16(),
            res.headers()
                .get("x-clavitor-error")
                .map(|v| v.to_str().unwrap().to_string()),
        )
    });
    assert_eq!(status, (403, Some("CV-2041".to_string())));
    // The granted, host-bound key is released toward api.openai.com (whatever the
    // upstream then does without network access).
    block_on(async {
        let _ = http
            .get("https://api.openai.com/v1/models")
            .header("Authorization", "Bearer clavitor://OpenAI/key")
            .send()
            .await;
    });
    let audit = vault.owner(&["audit", "--json"]);
    let rows: Vec<serde_json::Value> = audit
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let injects: Vec<_> = rows.iter().filter(|r| r["action"] == "inject").collect();
    assert_eq!(injects.len(), 2, "{audit}");
    assert_eq!(injects[0]["entry"], "Stripe API");
    assert_eq!(injects[0]["outcome"], "refused");
    assert_eq!(injects[1]["entry"], "OpenAI");
    assert_eq!(injects[1]["outcome"], "ok");
    assert!(
        injects
            .iter()
            .all(|r| r["actor"].as_str().unwrap().starts_with("proxy:"))
    );
}

/// A client that goes through the proxy on `port` and trusts its CA.
fn proxied_client(port: u16, ca_pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .proxy(reqwest::Proxy::https(format!("http://127.0.0.1:{port}")).unwrap())
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem).unwrap()])
        .build()
        .unwrap()
}
