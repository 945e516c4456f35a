//! The `http` provider: does the site open for you?

use super::analysis::{MeasurementResult, Verdict};
use super::{MetricProvider, ProviderContext};
use crate::api::HttpCheck;
use async_trait::async_trait;
use std::time::Duration;

pub struct HttpProvider<'a> {
    pub spec: &'a HttpCheck,
}

const MAX_BODY: usize = 1024 * 1024;

#[async_trait]
impl MetricProvider for HttpProvider<'_> {
    async fn measure(&self, ctx: &ProviderContext<'_>) -> MeasurementResult {
        let timeout = self
            .spec
            .timeout
            .as_deref()
            .and_then(|t| crate::duration::parse_duration_at_most(t, crate::duration::MAX_HTTP_TIMEOUT).ok())
            .unwrap_or(Duration::from_secs(5));
        let expected = self.spec.expect_status.unwrap_or(200);
        let fail = |message: String, value: Option<String>| MeasurementResult {
            verdict: Verdict::Failed,
            value,
            message: Some(message),
        };
        let response = match ctx.http.get(&self.spec.url).timeout(timeout).send().await {
            Ok(r) => r,
            Err(e) => return fail(format!("GET {} failed: {e}", self.spec.url), None),
        };
        let status = response.status().as_u16();
        let body = match response.bytes().await {
            Ok(b) => String::from_utf8_lossy(&b[..b.len().min(MAX_BODY)]).into_owned(),
            Err(e) => return fail(format!("reading the body failed: {e}"), Some(status.to_string())),
        };
        if status != expected {
            return fail(format!("status {status}, want {expected}"), Some(status.to_string()));
        }
        if let Some(needle) = &self.spec.body_contains {
            if !body.contains(needle.as_str()) {
                return fail(format!("body does not contain {needle:?}"), Some(status.to_string()));
            }
        }
        MeasurementResult {
            verdict: Verdict::Successful,
            value: Some(status.to_string()),
            message: None,
        }
    }
}
