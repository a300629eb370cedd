//! Request ids, the request span, and Prometheus metrics.
//!
//! Each router owns its recorder rather than installing a process-wide one, so that the binary
//! keeps the choice of a global recorder, and two routers in one process (tests) count apart.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use clearance::ClearanceError;
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use wire::LodgementView;

use crate::config::REQUEST_ID_LENGTH_MAX;
use crate::problem::{REQUEST_ID_HEADER, Refusal};

const REQUESTS_TOTAL: &str = "http_requests_total";
const REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";
const LODGEMENTS_TOTAL: &str = "lodgements_total";
const UNKNOWN_TOKENS_TOTAL: &str = "unknown_tokens_total";
const REQUESTS_IN_PROGRESS: &str = "http_requests_in_progress";
const REFUSALS_TOTAL: &str = "http_refusals_total";
/// Latency buckets from 5 ms (a cached read) to the request timeout's order of magnitude.
const DURATION_BUCKETS_SECONDS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Histogram samples wait in memory until drained; draining every so many requests bounds them
/// even if nobody scrapes `/metrics`.
const REQUESTS_PER_UPKEEP: u64 = 1024;

pub(crate) struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    n_requests: AtomicU64,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(REQUEST_DURATION_SECONDS.to_owned()),
                &DURATION_BUCKETS_SECONDS,
            )
            .expect("the duration buckets are not empty")
            .build_recorder();
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_counter!(
                REQUESTS_TOTAL,
                "HTTP requests answered, by route, method and status"
            );
            metrics::describe_histogram!(
                REQUEST_DURATION_SECONDS,
                metrics::Unit::Seconds,
                "Time to answer, by route"
            );
            metrics::describe_counter!(
                LODGEMENTS_TOTAL,
                "Lodgings by outcome: accepted, replayed, rejected or failed"
            );
            metrics::describe_counter!(
                UNKNOWN_TOKENS_TOTAL,
                "Bearer tokens refused as unknown (guessed, revoked or malformed)"
            );
            metrics::describe_gauge!(
                REQUESTS_IN_PROGRESS,
                "Requests being answered now (the scrape included)"
            );
            metrics::describe_counter!(
                REFUSALS_TOTAL,
                "Requests refused for a limit, by reason: rate_limited and in_progress (429), \
                 body_too_large (413), heavy_job_busy, timeout, write_queue_full and \
                 unavailable (503)"
            );
            // Present from the start, so that a scrape shows 0 rather than nothing.
            metrics::counter!(UNKNOWN_TOKENS_TOTAL).absolute(0);
            metrics::gauge!(REQUESTS_IN_PROGRESS).set(0.0);
            for Refusal(reason) in Refusal::ALL {
                metrics::counter!(REFUSALS_TOTAL, "reason" => reason).absolute(0);
            }
        });
        let handle = recorder.handle();
        Metrics {
            recorder,
            handle,
            n_requests: AtomicU64::new(0),
        }
    }

    /// The Prometheus text exposition: the recorder's families, then those read at scrape time.
    pub(crate) fn render(&self, read_at_scrape: crate::monitoring::Exposition) -> String {
        let mut text = self.handle.render();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&read_at_scrape.into_text());
        text
    }

    fn in_progress(&self, change: f64) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::gauge!(REQUESTS_IN_PROGRESS).increment(change);
        });
    }

    fn record_refusal(&self, Refusal(reason): Refusal) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!(REFUSALS_TOTAL, "reason" => reason).increment(1);
        });
    }

    fn record_request(&self, route: &str, method: &Method, status: StatusCode, elapsed: Duration) {
        metrics::with_local_recorder(&self.recorder, || {
            let (route, method, status) = (
                route.to_owned(),
                method_label(method),
                status.as_u16().to_string(),
            );
            metrics::counter!(REQUESTS_TOTAL, "route" => route.clone(), "method" => method, "status" => status)
                .increment(1);
            metrics::histogram!(REQUEST_DURATION_SECONDS, "route" => route)
                .record(elapsed.as_secs_f64());
        });
        if self.n_requests.fetch_add(1, Ordering::Relaxed) % REQUESTS_PER_UPKEEP
            == REQUESTS_PER_UPKEEP - 1
        {
            self.handle.run_upkeep();
        }
    }

    /// One bearer token refused as unknown.
    pub(crate) fn record_unknown_token(&self) {
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!(UNKNOWN_TOKENS_TOTAL).increment(1);
        });
    }

    pub(crate) fn record_lodgement(&self, result: &Result<LodgementView, ClearanceError>) {
        let outcome = match result {
            Ok(view) if view.created => "accepted",
            Ok(_) => "replayed",
            Err(ClearanceError::Unavailable(_) | ClearanceError::Internal(_)) => "failed",
            Err(_) => "rejected",
        };
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!(LODGEMENTS_TOTAL, "outcome" => outcome).increment(1);
        });
    }
}

/// Labels come from a fixed set, so a client cannot grow the number of series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// One request counted in progress until it is answered or dropped.
struct InProgress<'a>(&'a Metrics);

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.0.in_progress(-1.0);
    }
}

/// Counts every answer by its route template (never the raw path, which would let clients create
/// series), method and status, times it, counts it in progress meanwhile, and counts a refusal
/// for a limit by its reason.
pub(crate) async fn record_request(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = request.method().clone();
    let started = Instant::now();
    metrics.in_progress(1.0);
    let in_progress = InProgress(&metrics);
    let response = next.run(request).await;
    drop(in_progress);
    if let Some(refusal) = response.extensions().get::<Refusal>() {
        metrics.record_refusal(*refusal);
    }
    metrics.record_request(&route, &method, response.status(), started.elapsed());
    response
}

/// Drops a client's `x-request-id` that is too long or not printable ASCII, so that a fresh one is
/// made for it; a usable one is kept, to follow a request across systems.
pub(crate) async fn drop_unusable_request_id(mut request: Request, next: Next) -> Response {
    if request
        .headers()
        .get(REQUEST_ID_HEADER)
        .is_some_and(|value| !is_usable_request_id(value))
    {
        request.headers_mut().remove(REQUEST_ID_HEADER);
    }
    next.run(request).await
}

fn is_usable_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=REQUEST_ID_LENGTH_MAX).contains(&bytes.len()) && bytes.iter().all(u8::is_ascii_graphic)
}

/// The span every log line of a request is recorded in.
pub(crate) fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!("http request", method = %request.method(), path = %request.uri().path(), request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_up_to_the_length_limit_are_kept() {
        let at_limit = HeaderValue::from_str(&"a".repeat(REQUEST_ID_LENGTH_MAX)).unwrap();
        let over_limit = HeaderValue::from_str(&"a".repeat(REQUEST_ID_LENGTH_MAX + 1)).unwrap();
        assert!(is_usable_request_id(&at_limit));
        assert!(!is_usable_request_id(&over_limit));
        assert!(!is_usable_request_id(&HeaderValue::from_static(
            "with space"
        )));
        assert!(!is_usable_request_id(&HeaderValue::from_static("")));
    }
}
