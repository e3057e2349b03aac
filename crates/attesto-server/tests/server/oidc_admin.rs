//! Administrators authenticated by bearer JWTs from an OpenID Connect issuer (a local mock that
//! serves discovery and a key set), validated for signature, iss, aud, lifetime and role.

use anyhow::{Context, Result, ensure};
use attesto_jose::{Algorithm, Header, Jwk, SigningKey, sign_jws};
use attesto_server::auth::AdminConfig;
use axum::Router;
use axum::routing::get;
use serde_json::json;

use crate::common::{self, Options};

const NOW: u64 = 1_751_328_000;
const AUDIENCE: &str = "api://attesto";

async fn mock_issuer(key: &SigningKey) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let mut jwk = Jwk::from_public_key(key.public_key());
    jwk.kid = Some("k1".into());
    let jwks = json!({ "keys": [jwk] }).to_string();
    let discovery = json!({ "issuer": base, "jwks_uri": format!("{base}/keys") }).to_string();
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { discovery }),
        )
        .route("/keys", get(move || async move { jwks }));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(base)
}

fn token(key: &SigningKey, claims: serde_json::Value) -> Result<String> {
    let mut header = Header::new(Algorithm::Rs256);
    header.kid = Some("k1".into());
    header.typ = Some("JWT".into());
    Ok(sign_jws(&header, claims.to_string().as_bytes(), key)?)
}

#[tokio::test]
async fn oidc_bearer_tokens_are_validated_completely() -> Result<()> {
    let key = SigningKey::generate_rsa(attesto_jose::RsaBits::B2048)?;
    let issuer = mock_issuer(&key).await?;
    let server = common::start(
        NOW,
        Options {
            admin: Some(AdminConfig {
                oidc_issuer: Some(issuer.clone()),
                oidc_audience: Some(AUDIENCE.into()),
                ..AdminConfig::default()
            }),
            ..Options::default()
        },
    )
    .await?;
    let good = json!({
        "iss": issuer, "aud": AUDIENCE, "sub": "alice", "roles": ["Attestation.Admin"],
        "iat": NOW, "nbf": NOW, "exp": NOW + 3600,
    });
    let mut cases = vec![(token(&key, good.clone())?, 200)];
    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!("api://other");
    cases.push((token(&key, wrong_aud)?, 401));
    let mut no_role = good.clone();
    no_role["roles"] = json!(["Reader"]);
    cases.push((token(&key, no_role)?, 401));
    let mut expired = good.clone();
    expired["exp"] = json!(NOW - 3600);
    cases.push((token(&key, expired)?, 401));
    let mut foreign_iss = good.clone();
    foreign_iss["iss"] = json!("https://evil.example");
    cases.push((token(&key, foreign_iss)?, 401));
    let stranger = SigningKey::generate_rsa(attesto_jose::RsaBits::B2048)?;
    cases.push((token(&stranger, good.clone())?, 401));
    cases.push((
        "eyJhbGciOiJub25lIn0.".to_owned() + &base64_claims(&good) + ".",
        401,
    ));

    for (i, (bearer, want)) in cases.into_iter().enumerate() {
        let response = server
            .client
            .get(format!(
                "{}/policies/SgxEnclave?api-version=2022-08-01",
                server.base
            ))
            .bearer_auth(&bearer)
            .send()
            .await?;
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await?;
        ensure!(status == want, "case {i}: {status} {body}");
        if want == 401 {
            ensure!(body["error"]["code"] == "Unauthorized", "case {i}: {body}");
        }
    }

    // The audit log names the OIDC subject.
    let body = attesto_jose::maa::unsecured_policy_jws(
        "version=1.0; authorizationrules{=> permit();}; issuancerules{};",
    );
    let response = server
        .client
        .put(format!(
            "{}/policies/SgxEnclave?api-version=2022-08-01",
            server.base
        ))
        .bearer_auth(token(&key, good)?)
        .body(body)
        .send()
        .await?;
    ensure!(response.status() == 200, "{}", response.text().await?);
    let events = server
        .server
        .state()
        .store
        .audit(&attesto_store::AuditQuery {
            provider: Some("default".into()),
            since: None,
            limit: 1,
        })?;
    let event = events.first().context("audit event")?;
    ensure!(event.event.actor == "oidc:alice", "{:?}", event.event);
    Ok(())
}

fn base64_claims(claims: &serde_json::Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string())
}
