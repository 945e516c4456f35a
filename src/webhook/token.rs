//! The bearer token the webhook requires, read from a Secret at start, re-read periodically
//! and when a request does not match (at most every few seconds).

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::Client;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A `namespace/name:key` reference to a Secret key.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRef {
    pub namespace: String,
    pub name: String,
    pub key: String,
}

impl std::str::FromStr for TokenRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not namespace/name:key");
        let (ns, rest) = s.split_once('/').ok_or_else(bad)?;
        let (name, key) = rest.split_once(':').ok_or_else(bad)?;
        if ns.is_empty() || name.is_empty() || key.is_empty() {
            return Err(bad());
        }
        Ok(TokenRef {
            namespace: ns.into(),
            name: name.into(),
            key: key.into(),
        })
    }
}

pub const REFRESH: Duration = Duration::from_secs(60);
const MIN_REREAD: Duration = Duration::from_secs(5);

/// The expected token, when one is required.
pub struct Token {
    client: Client,
    reference: TokenRef,
    value: Mutex<(Option<String>, Option<Instant>)>,
}

impl Token {
    pub fn new(client: Client, reference: TokenRef) -> Token {
        Token {
            client,
            reference,
            value: Mutex::new((None, None)),
        }
    }

    /// Reads the Secret; keeps the last value when it cannot be read.
    pub async fn refresh(&self) {
        let r = &self.reference;
        let read = Api::<Secret>::namespaced(self.client.clone(), &r.namespace)
            .get(&r.name)
            .await
            .map_err(|e| e.to_string())
            .and_then(|s| {
                s.data
                    .and_then(|d| d.get(&r.key).map(|b| String::from_utf8_lossy(&b.0).trim().to_string()))
                    .ok_or_else(|| format!("no key {}", r.key))
            });
        let mut value = self.value.lock().expect("token lock");
        value.1 = Some(Instant::now());
        match read {
            Ok(token) if !token.is_empty() => value.0 = Some(token),
            Ok(_) => tracing::warn!(secret = %format!("{}/{}", r.namespace, r.name), "webhook token is empty"),
            Err(e) => {
                tracing::warn!(secret = %format!("{}/{}", r.namespace, r.name), error = %e, "cannot read the webhook token")
            }
        }
    }

    fn matches(&self, presented: Option<&str>) -> bool {
        let value = self.value.lock().expect("token lock");
        match (&value.0, presented) {
            (Some(expected), Some(given)) => constant_time_eq(expected.as_bytes(), given.as_bytes()),
            _ => false,
        }
    }

    /// Checks a presented token, re-reading the Secret once when it does not match.
    pub async fn check(&self, presented: Option<&str>) -> bool {
        if self.matches(presented) {
            return true;
        }
        let stale = self
            .value
            .lock()
            .expect("token lock")
            .1
            .is_none_or(|t| t.elapsed() >= MIN_REREAD);
        if stale {
            self.refresh().await;
            return self.matches(presented);
        }
        false
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_references_parse() {
        let r: TokenRef = "dontpanic-system/webhook:token".parse().unwrap();
        assert_eq!(
            (r.namespace.as_str(), r.name.as_str(), r.key.as_str()),
            ("dontpanic-system", "webhook", "token")
        );
        assert!("webhook:token".parse::<TokenRef>().is_err());
        assert!("ns/name".parse::<TokenRef>().is_err());
        assert!(constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd"));
    }
}
