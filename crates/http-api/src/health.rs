//! Liveness and readiness, for an orchestrator or a load balancer.
//!
//! Live: the process answers HTTP (restart it if not). Ready: it can do its work, so send it
//! traffic: the store reads, the writer thread takes a request from its queue and answers within
//! [`READINESS_WRITER_TIMEOUT`] (a round trip that writes nothing), the write queue has room and
//! the disk has at least [`READY_DISK_FREE_BYTES_MIN`] free. Not ready is a 503 problem naming
//! each check that failed, in English and Chinese. `/v1/health` stays as it was (a read).

use std::future::Future;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use store::{OperationalStats, Store};
use utoipa::ToSchema;
use wire::Problem;

use crate::AppState;
use crate::problem::ApiError;

/// How long a readiness check waits for the writer (and for each read). A writer that takes
/// longer to reach the end of its queue would leave a lodging waiting about as long: not ready.
pub const READINESS_WRITER_TIMEOUT: Duration = Duration::from_secs(2);

/// The least free space on the store's file system for the server to be ready: room for several
/// minutes of lodging at full speed and for the WAL to grow before a checkpoint copies it back.
/// Below it, new work should go elsewhere before a write fails for want of space.
pub const READY_DISK_FREE_BYTES_MIN: u64 = 256 * 1024 * 1024;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Liveness {
    /// Always `live`.
    status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Readiness {
    /// Always `ready` (not ready is a 503 problem).
    status: String,
    /// Each check and what it found.
    checks: Vec<ReadinessCheck>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReadinessCheck {
    /// `store`, `writer`, `write_queue` or `disk`.
    name: String,
    ready: bool,
    /// What it found, or why it is not ready (in English; the problem says it in Chinese too).
    detail: String,
}

/// A check that failed: its name, and why in English and Chinese.
struct NotReady {
    name: &'static str,
    en: String,
    zh: String,
}

#[utoipa::path(
    get,
    path = "/v1/health/live",
    tag = "operations",
    summary = "Liveness",
    description = "Whether the process answers. No authentication; touches nothing else.",
    responses((status = 200, description = "Live", body = Liveness)),
)]
pub(crate) async fn live() -> Json<Liveness> {
    Json(Liveness {
        status: "live".to_owned(),
    })
}

#[utoipa::path(
    get,
    path = "/v1/health/ready",
    tag = "operations",
    summary = "Readiness",
    description = "Whether the server can do its work: the store reads, the writer thread answers a \
                   round trip through its queue within the readiness timeout, the write queue has \
                   room and the store's disk has the minimum free space. No authentication.",
    responses(
        (status = 200, description = "Ready: every check passed", body = Readiness),
        (status = 503, description = "Not ready; the problem names each check that failed",
            body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn ready<S: Store>(
    State(state): State<AppState<S>>,
) -> Result<Json<Readiness>, ApiError> {
    let store = state.clearance.store();
    let mut checks = Vec::new();
    let mut failed = Vec::new();
    let mut note = |name: &'static str, result: Result<String, NotReady>| match result {
        Ok(detail) => checks.push(ReadinessCheck {
            name: name.to_owned(),
            ready: true,
            detail,
        }),
        Err(not_ready) => {
            checks.push(ReadinessCheck {
                name: name.to_owned(),
                ready: false,
                detail: not_ready.en.clone(),
            });
            failed.push(not_ready);
        }
    };
    note(
        "store",
        within("store", state.clearance.check_store())
            .await
            .map(|()| "reads".to_owned()),
    );
    note(
        "writer",
        within("writer", store.ping_writer())
            .await
            .map(|()| "answers".to_owned()),
    );
    match within("write_queue", store.operational_stats()).await {
        Ok(stats) => {
            note("write_queue", queue_ready(&stats));
            note("disk", disk_ready(stats.disk_free_bytes));
        }
        Err(not_ready) => note("write_queue", Err(not_ready)),
    }
    if failed.is_empty() {
        return Ok(Json(Readiness {
            status: "ready".to_owned(),
            checks,
        }));
    }
    tracing::warn!(
        not_ready = failed
            .iter()
            .map(|f| f.en.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        "the readiness probe fails"
    );
    let en: Vec<String> = failed
        .iter()
        .map(|f| format!("{}: {}", f.name, f.en))
        .collect();
    let zh: Vec<String> = failed
        .iter()
        .map(|f| format!("{}：{}", f.name, f.zh))
        .collect();
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not-ready",
        "Not ready",
        format!("not ready: {}", en.join("; ")),
        format!("尚未就绪：{}", zh.join("；")),
    ))
}

/// Runs one check under [`READINESS_WRITER_TIMEOUT`], turning its error or its silence into the
/// reason it is not ready.
async fn within<T, E: std::fmt::Display>(
    name: &'static str,
    check: impl Future<Output = Result<T, E>>,
) -> Result<T, NotReady> {
    match tokio::time::timeout(READINESS_WRITER_TIMEOUT, check).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(NotReady {
            name,
            en: error.to_string(),
            zh: match name {
                "writer" => "存储写入线程未响应或写入队列已满".to_owned(),
                _ => "无法读取存储".to_owned(),
            },
        }),
        Err(_) => Err(NotReady {
            name,
            en: format!(
                "no answer within {} ms",
                READINESS_WRITER_TIMEOUT.as_millis()
            ),
            zh: format!("{} 毫秒内无响应", READINESS_WRITER_TIMEOUT.as_millis()),
        }),
    }
}

fn queue_ready(stats: &OperationalStats) -> Result<String, NotReady> {
    let (depth, capacity) = (stats.write_queue_depth, stats.write_queue_capacity);
    if depth >= capacity {
        return Err(NotReady {
            name: "write_queue",
            en: format!("the write queue is full ({depth} of {capacity})"),
            zh: format!("写入队列已满（{depth}/{capacity}）"),
        });
    }
    Ok(format!("{depth} of {capacity} waiting"))
}

/// Ready with at least [`READY_DISK_FREE_BYTES_MIN`] free; an unknown free space does not make
/// the server unready (the writes themselves will say if the disk is full).
fn disk_ready(free: Option<u64>) -> Result<String, NotReady> {
    let min = READY_DISK_FREE_BYTES_MIN;
    match free {
        None => Ok("free space unknown".to_owned()),
        Some(free) if free >= min => Ok(format!("{free} bytes free")),
        Some(free) => Err(NotReady {
            name: "disk",
            en: format!("{free} bytes free on the store's disk, below the minimum of {min}"),
            zh: format!("存储所在磁盘剩余 {free} 字节，低于最低要求 {min} 字节"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disk_is_ready_from_the_minimum_free_space_up() {
        assert!(disk_ready(Some(READY_DISK_FREE_BYTES_MIN)).is_ok());
        let below = disk_ready(Some(READY_DISK_FREE_BYTES_MIN - 1)).unwrap_err();
        assert_eq!(below.name, "disk");
        assert!(below.en.contains("below the minimum"), "{}", below.en);
        assert!(below.zh.contains("低于最低要求"), "{}", below.zh);
        assert!(disk_ready(None).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_is_ready_only_if_it_answers_within_the_timeout() {
        let answering_after = |wait: Duration| {
            within("writer", async move {
                tokio::time::sleep(wait).await;
                Ok::<(), String>(())
            })
        };
        let tick = Duration::from_millis(1);
        assert!(
            answering_after(READINESS_WRITER_TIMEOUT - tick)
                .await
                .is_ok()
        );
        let Err(late) = answering_after(READINESS_WRITER_TIMEOUT + tick).await else {
            panic!("a check answering after the timeout is not ready");
        };
        assert_eq!(late.en, "no answer within 2000 ms");
        assert_eq!(late.zh, "2000 毫秒内无响应");
    }

    #[test]
    fn the_write_queue_is_ready_until_it_is_full() {
        let stats = |depth| OperationalStats {
            write_queue_depth: depth,
            write_queue_capacity: 4,
            ..OperationalStats::default()
        };
        assert!(queue_ready(&stats(3)).is_ok());
        assert!(queue_ready(&stats(4)).is_err());
    }
}
