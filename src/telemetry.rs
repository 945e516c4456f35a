//! Logs and traces: human-readable logs by default, JSON on request, and OpenTelemetry OTLP
//! trace export when the standard `OTEL_*` variables name an endpoint.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Keeps the trace pipeline alive; dropping it flushes pending spans.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Whether the environment asks for OTLP trace export.
pub fn otlp_requested() -> bool {
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()))
        && std::env::var("OTEL_SDK_DISABLED").map(|v| v != "true").unwrap_or(true)
}

pub fn init(json: bool) -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,kube=warn,hyper=warn"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let fmt = if json { fmt.json().boxed() } else { fmt.boxed() };
    let mut provider = None;
    let otel = if otlp_requested() {
        match opentelemetry_otlp::SpanExporter::builder().with_http().build() {
            Ok(exporter) => {
                let resource = opentelemetry_sdk::Resource::builder()
                    .with_service_name("dontpanic")
                    .build();
                let built = SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(resource)
                    .build();
                let layer = tracing_opentelemetry::layer().with_tracer(built.tracer("dontpanic"));
                provider = Some(built);
                Some(layer)
            }
            Err(e) => {
                eprintln!("dontpanic: OTLP trace export disabled: {e}");
                None
            }
        }
    } else {
        None
    };
    tracing_subscriber::registry().with(filter).with(fmt).with(otel).init();
    Telemetry { provider }
}
