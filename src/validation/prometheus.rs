//! The `prometheus` provider: an instant query judged by conditions over `result`.

use super::analysis::{MeasurementResult, Verdict};
use super::{MetricProvider, ProviderContext};
use crate::api::{PrometheusAuth, PrometheusCheck};
use crate::expr::{self, Value, Variables};
use async_trait::async_trait;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use serde_json::Value as Json;
use std::time::Duration;

pub struct PrometheusProvider<'a> {
    pub spec: &'a PrometheusCheck,
}

const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// What an instant query returned.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    Empty,
    Scalar(f64),
    Vector(Vec<f64>),
}

/// Credentials for a Prometheus request.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub bearer: Option<String>,
    pub basic: Option<(String, String)>,
}

/// Runs an instant query.
pub async fn instant_query(
    http: &reqwest::Client,
    base: &str,
    query: &str,
    creds: &Credentials,
) -> Result<QueryResult, String> {
    let url = format!("{}/api/v1/query", base.trim_end_matches('/'));
    let mut request = http.get(&url).query(&[("query", query)]).timeout(QUERY_TIMEOUT);
    if let Some(token) = &creds.bearer {
        request = request.bearer_auth(token);
    }
    if let Some((user, pass)) = &creds.basic {
        request = request.basic_auth(user, Some(pass));
    }
    let response = request.send().await.map_err(|e| format!("querying {url}: {e}"))?;
    let status = response.status();
    let body: Json = response
        .json()
        .await
        .map_err(|e| format!("reading the answer of {url}: {e}"))?;
    if !status.is_success() || body["status"] != "success" {
        return Err(format!(
            "Prometheus answered {status}: {}",
            body["error"].as_str().unwrap_or("no error text")
        ));
    }
    parse_result(&body["data"])
}

fn parse_number(v: &Json) -> Result<f64, String> {
    let text = v.get(1).and_then(Json::as_str).ok_or("a sample without a value")?;
    text.parse::<f64>()
        .map_err(|_| format!("sample value {text:?} is not a number"))
}

fn parse_result(data: &Json) -> Result<QueryResult, String> {
    match data["resultType"].as_str() {
        Some("scalar") => Ok(QueryResult::Scalar(parse_number(&data["result"])?)),
        Some("vector") => {
            let samples = data["result"].as_array().ok_or("vector without samples")?;
            if samples.is_empty() {
                return Ok(QueryResult::Empty);
            }
            samples
                .iter()
                .map(|s| parse_number(&s["value"]))
                .collect::<Result<Vec<_>, _>>()
                .map(QueryResult::Vector)
        }
        Some(other) => Err(format!(
            "result type {other} is not supported; use an instant vector or scalar"
        )),
        None => Err("the answer has no resultType".to_string()),
    }
}

/// Judges a query result by the success and failure conditions. An empty result is
/// inconclusive, never success.
pub fn judge(result: &QueryResult, success: &str, failure: Option<&str>) -> MeasurementResult {
    let value = match result {
        QueryResult::Empty => {
            return MeasurementResult {
                verdict: Verdict::Inconclusive,
                value: None,
                message: Some("the query returned no data".into()),
            }
        }
        QueryResult::Scalar(n) => Value::Number(*n),
        QueryResult::Vector(items) if items.len() == 1 => Value::Number(items[0]),
        QueryResult::Vector(items) => Value::List(items.clone()),
    };
    let shown = value.to_string();
    let mut vars = Variables::new();
    vars.insert("result".to_string(), value);
    let error = |e: String| MeasurementResult {
        verdict: Verdict::Error,
        value: Some(shown.clone()),
        message: Some(e),
    };
    if let Some(f) = failure {
        match expr::eval_bool(f, &vars) {
            Ok(true) => {
                return MeasurementResult {
                    verdict: Verdict::Failed,
                    value: Some(shown.clone()),
                    message: Some(format!("failureCondition `{f}` holds")),
                }
            }
            Ok(false) => {}
            Err(e) => return error(e),
        }
    }
    match expr::eval_bool(success, &vars) {
        Ok(true) => MeasurementResult {
            verdict: Verdict::Successful,
            value: Some(shown),
            message: None,
        },
        Ok(false) if failure.is_some() => MeasurementResult {
            verdict: Verdict::Inconclusive,
            value: Some(shown),
            message: Some("neither successCondition nor failureCondition holds".into()),
        },
        Ok(false) => MeasurementResult {
            verdict: Verdict::Failed,
            value: Some(shown),
            message: Some(format!("successCondition `{success}` does not hold")),
        },
        Err(e) => error(e),
    }
}

async fn credentials(ctx: &ProviderContext<'_>, auth: &PrometheusAuth) -> Result<Credentials, String> {
    let secret = Api::<Secret>::namespaced(ctx.client.clone(), ctx.namespace)
        .get(&auth.secret_name)
        .await
        .map_err(|e| format!("reading Secret {}: {e}", auth.secret_name))?;
    let data = secret.data.unwrap_or_default();
    let read = |key: &str| -> Result<String, String> {
        data.get(key)
            .map(|b| String::from_utf8_lossy(&b.0).trim().to_string())
            .ok_or_else(|| format!("Secret {} has no key {key:?}", auth.secret_name))
    };
    let mut creds = Credentials::default();
    if let Some(key) = &auth.bearer_token_key {
        creds.bearer = Some(read(key)?);
    }
    if let (Some(u), Some(p)) = (&auth.username_key, &auth.password_key) {
        creds.basic = Some((read(u)?, read(p)?));
    }
    Ok(creds)
}

#[async_trait]
impl MetricProvider for PrometheusProvider<'_> {
    async fn measure(&self, ctx: &ProviderContext<'_>) -> MeasurementResult {
        let error = |m: String| MeasurementResult {
            verdict: Verdict::Error,
            value: None,
            message: Some(m),
        };
        let Some(base) = self.spec.address.as_deref().or(ctx.default_prometheus_url) else {
            return error(
                "no Prometheus address: set prometheus.address or run the operator with --prometheus-url".into(),
            );
        };
        let creds = match &self.spec.auth {
            Some(auth) => match credentials(ctx, auth).await {
                Ok(c) => c,
                Err(e) => return error(e),
            },
            None => Credentials::default(),
        };
        match instant_query(&ctx.http, base, &self.spec.query, &creds).await {
            Ok(result) => judge(
                &result,
                &self.spec.success_condition,
                self.spec.failure_condition.as_deref(),
            ),
            Err(e) => error(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_results_are_inconclusive() {
        assert_eq!(
            judge(&QueryResult::Empty, "result < 1", None).verdict,
            Verdict::Inconclusive
        );
    }

    #[test]
    fn success_failure_and_inconclusive() {
        assert_eq!(
            judge(&QueryResult::Vector(vec![0.01]), "result < 0.05", None).verdict,
            Verdict::Successful
        );
        assert_eq!(
            judge(&QueryResult::Vector(vec![0.5]), "result < 0.05", None).verdict,
            Verdict::Failed
        );
        assert_eq!(
            judge(&QueryResult::Scalar(0.1), "result < 0.05", Some("result > 0.2")).verdict,
            Verdict::Inconclusive
        );
        assert_eq!(
            judge(&QueryResult::Scalar(0.3), "result < 0.05", Some("result > 0.2")).verdict,
            Verdict::Failed
        );
        assert_eq!(
            judge(&QueryResult::Vector(vec![0.01, 0.02]), "all(result, {# < 0.05})", None).verdict,
            Verdict::Successful
        );
        assert_eq!(
            judge(&QueryResult::Vector(vec![0.01, 0.2]), "result < 0.05", None).verdict,
            Verdict::Error
        );
    }

    #[test]
    fn parses_prometheus_answers() {
        let vector: Json =
            serde_json::json!({"resultType": "vector", "result": [{"metric": {}, "value": [1.0, "0.25"]}]});
        assert_eq!(parse_result(&vector).unwrap(), QueryResult::Vector(vec![0.25]));
        let empty: Json = serde_json::json!({"resultType": "vector", "result": []});
        assert_eq!(parse_result(&empty).unwrap(), QueryResult::Empty);
        let scalar: Json = serde_json::json!({"resultType": "scalar", "result": [1.0, "3"]});
        assert_eq!(parse_result(&scalar).unwrap(), QueryResult::Scalar(3.0));
        let matrix: Json = serde_json::json!({"resultType": "matrix", "result": []});
        assert!(parse_result(&matrix).unwrap_err().contains("not supported"));
    }
}
