//! Fault injection for reliability tests: make the next N requests of a kind fail, stall, lose
//! their connection, or (for commit and stream write) take effect and then lose the response.
//!
//! Tests drive it through the library ([`Faults::inject`]) or over HTTP through
//! [`admin_router`] (mounted by the server at `/__admin/faults`). Handlers consume faults with
//! [`Faults::take`] or, more conveniently, [`Faults::intercept`].

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// The request kinds a fault can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// `POST …/tables/<t>?uploads` (batch) and `POST …/streams` (stream session creation).
    CreateSession,
    /// `PUT …/tables/<t>?uploadid=&blockid=`.
    BlockUpload,
    /// `POST …/tables/<t>?uploadid=` (batch commit).
    Commit,
    /// `PUT …/streams?uploadid=&slotid=`.
    StreamWrite,
    /// STS `AssumeRole`.
    AssumeRole,
    /// REST `GET /projects/<p>/tables/<t>` (with or without `?extended` / `?partition=`).
    TableMetadata,
}

impl FaultKind {
    /// Kinds whose change can be applied before the response is lost.
    pub fn can_apply_then_drop(self) -> bool {
        matches!(self, FaultKind::Commit | FaultKind::StreamWrite)
    }
}

/// What happens to a request hit by a fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer with this status and a tunnel-shaped JSON error, without touching any state.
    Fail {
        status: u16,
        code: String,
        message: String,
    },
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Abort the connection without sending a response, without touching any state.
    DropConnection,
    /// Handle the request (the change becomes durable), then abort the connection instead of
    /// answering, so the client cannot tell whether it took effect. Commit and stream write only.
    ApplyThenDrop,
}

/// A rejected [`Faults::inject`] call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InjectError {
    #[error("fail status {0} is not an error status (expected 300..=599)")]
    StatusNotAnError(u16),
    #[error("apply_then_drop only applies to commit and stream_write, not {0:?}")]
    CannotApply(FaultKind),
    #[error("fail code must not be empty")]
    EmptyCode,
}

/// One queued fault and how many more requests it will hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingFault {
    pub kind: FaultKind,
    pub action: FaultAction,
    pub remaining: u32,
}

/// Per kind, the queued actions with the number of hits each has left.
type Queues = HashMap<FaultKind, VecDeque<(FaultAction, u32)>>;

/// Shared, cloneable fault queue: one FIFO per [`FaultKind`].
#[derive(Debug, Clone, Default)]
pub struct Faults {
    queues: Arc<Mutex<Queues>>,
}

/// What a handler should do after [`Faults::intercept`].
#[derive(Debug)]
pub enum Interception {
    /// No fault (or a delay that has already elapsed): handle the request normally.
    Proceed,
    /// Handle the request, then return [`drop_connection_response`] instead of the real answer.
    ApplyThenDrop,
    /// Return this response without handling the request.
    Respond(Response),
}

impl Faults {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Queues> {
        // A panic while holding this lock cannot leave the queues half-updated (every update is
        // a single push/pop), so a poisoned lock is still safe to use.
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes the next `times` requests of `kind` (after those already queued) hit `action`.
    /// `times == 0` queues nothing.
    pub fn inject(
        &self,
        kind: FaultKind,
        action: FaultAction,
        times: u32,
    ) -> Result<(), InjectError> {
        match &action {
            FaultAction::Fail { status, code, .. } => {
                if !(300..=599).contains(status) {
                    return Err(InjectError::StatusNotAnError(*status));
                }
                if code.is_empty() {
                    return Err(InjectError::EmptyCode);
                }
            }
            FaultAction::ApplyThenDrop if !kind.can_apply_then_drop() => {
                return Err(InjectError::CannotApply(kind));
            }
            _ => {}
        }
        if times > 0 {
            tracing::info!(?kind, ?action, times, "fault injected");
            self.lock()
                .entry(kind)
                .or_default()
                .push_back((action, times));
        }
        Ok(())
    }

    /// Consumes one hit of the oldest fault queued for `kind`.
    pub fn take(&self, kind: FaultKind) -> Option<FaultAction> {
        let mut queues = self.lock();
        let queue = queues.get_mut(&kind)?;
        let (action, remaining) = queue.front_mut()?;
        let taken = action.clone();
        *remaining -= 1;
        if *remaining == 0 {
            queue.pop_front();
        }
        tracing::info!(?kind, action = ?taken, "fault triggered");
        Some(taken)
    }

    /// Removes every queued fault.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The queued faults, grouped by kind in a stable order, oldest first within a kind.
    pub fn pending(&self) -> Vec<PendingFault> {
        let queues = self.lock();
        let mut out: Vec<PendingFault> = queues
            .iter()
            .flat_map(|(kind, q)| {
                q.iter().map(|(action, remaining)| PendingFault {
                    kind: *kind,
                    action: action.clone(),
                    remaining: *remaining,
                })
            })
            .collect();
        // HashMap order is arbitrary; a stable sort by kind keeps the FIFO order inside a kind.
        out.sort_by_key(|p| p.kind as u8);
        out
    }

    /// Consumes the next fault for `kind` and performs what happens before the handler runs:
    /// sleeps for a delay, or builds the response for a failure or a dropped connection.
    pub async fn intercept(&self, kind: FaultKind, request_id: &str) -> Interception {
        match self.take(kind) {
            None => Interception::Proceed,
            Some(FaultAction::Delay(d)) => {
                tokio::time::sleep(d).await;
                Interception::Proceed
            }
            Some(FaultAction::Fail {
                status,
                code,
                message,
            }) => Interception::Respond(fail_response(status, &code, &message, request_id)),
            Some(FaultAction::DropConnection) => Interception::Respond(drop_connection_response()),
            Some(FaultAction::ApplyThenDrop) => Interception::ApplyThenDrop,
        }
    }

    /// [`intercept`](Self::intercept) for kinds that cannot be applied then dropped (`inject`
    /// refuses that action for them): the response to send instead of handling the request.
    pub async fn reject(&self, kind: FaultKind, request_id: &str) -> Option<Response> {
        match self.intercept(kind, request_id).await {
            Interception::Respond(response) => Some(response),
            Interception::Proceed | Interception::ApplyThenDrop => None,
        }
    }
}

/// A tunnel-shaped error: JSON `{"Code","Message","RequestId"}` plus `x-odps-request-id`.
pub fn fail_response(status: u16, code: &str, message: &str, request_id: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({ "Code": code, "Message": message, "RequestId": request_id });
    let mut response = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-odps-request-id", v);
    }
    response
}

/// The error a [`drop_connection_response`] body yields; it never reaches the client.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
pub struct ConnectionDropped;

/// A response that makes hyper abort the connection before anything is written.
///
/// hyper queues the status line and headers, then polls the body before flushing; a body whose
/// first poll fails makes hyper tear down the connection with nothing sent, so the client sees
/// the connection close (reqwest: an error from `send()`), exactly like a network failure.
pub fn drop_connection_response() -> Response {
    Response::new(Body::new(FailingBody))
}

/// A body whose only frame is an error.
struct FailingBody;

impl http_body::Body for FailingBody {
    type Data = Bytes;
    type Error = ConnectionDropped;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, ConnectionDropped>>> {
        Poll::Ready(Some(Err(ConnectionDropped)))
    }
}

// --- admin API --------------------------------------------------------------------------------

/// JSON form of a fault, as accepted by `POST` and listed by `GET`.
///
/// `{"kind":"commit","action":"fail","status":500,"code":"InternalServerError","message":"…","times":2}`,
/// `{"kind":"block_upload","action":"delay","delay_ms":1500}`,
/// `{"kind":"stream_write","action":"drop_connection"}`, `{"kind":"commit","action":"apply_then_drop"}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FaultSpec {
    pub kind: FaultKind,
    #[serde(flatten)]
    pub action: ActionSpec,
    /// How many requests it hits (default 1); in listings, how many remain.
    #[serde(default = "one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ActionSpec {
    Fail {
        status: u16,
        code: String,
        #[serde(default)]
        message: String,
    },
    Delay {
        delay_ms: u64,
    },
    DropConnection,
    ApplyThenDrop,
}

impl From<ActionSpec> for FaultAction {
    fn from(spec: ActionSpec) -> Self {
        match spec {
            ActionSpec::Fail {
                status,
                code,
                message,
            } => FaultAction::Fail {
                status,
                code,
                message,
            },
            ActionSpec::Delay { delay_ms } => FaultAction::Delay(Duration::from_millis(delay_ms)),
            ActionSpec::DropConnection => FaultAction::DropConnection,
            ActionSpec::ApplyThenDrop => FaultAction::ApplyThenDrop,
        }
    }
}

impl From<FaultAction> for ActionSpec {
    fn from(action: FaultAction) -> Self {
        match action {
            FaultAction::Fail {
                status,
                code,
                message,
            } => ActionSpec::Fail {
                status,
                code,
                message,
            },
            FaultAction::Delay(d) => ActionSpec::Delay {
                delay_ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            },
            FaultAction::DropConnection => ActionSpec::DropConnection,
            FaultAction::ApplyThenDrop => ActionSpec::ApplyThenDrop,
        }
    }
}

impl From<PendingFault> for FaultSpec {
    fn from(p: PendingFault) -> Self {
        FaultSpec {
            kind: p.kind,
            action: p.action.into(),
            times: p.remaining,
        }
    }
}

/// `GET` lists the queued faults, `POST` queues one ([`FaultSpec`], or an array of them) and
/// answers the new list, `DELETE` clears all. Mount with `Router::nest("/__admin/faults", …)`.
pub fn admin_router(faults: Faults) -> Router {
    Router::new()
        .route("/", get(list).post(inject).delete(clear))
        .with_state(faults)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(FaultSpec),
    Many(Vec<FaultSpec>),
}

fn listing(faults: &Faults) -> Json<Vec<FaultSpec>> {
    Json(faults.pending().into_iter().map(FaultSpec::from).collect())
}

async fn list(State(faults): State<Faults>) -> Json<Vec<FaultSpec>> {
    listing(&faults)
}

async fn inject(State(faults): State<Faults>, body: Bytes) -> Response {
    let specs = match serde_json::from_slice::<OneOrMany>(&body) {
        Ok(OneOrMany::One(s)) => vec![s],
        Ok(OneOrMany::Many(v)) => v,
        Err(e) => return admin_error(format!("invalid fault JSON: {e}")),
    };
    // Validate everything first so a bad entry does not leave half of a request applied.
    for spec in &specs {
        let probe = Faults::new();
        if let Err(e) = probe.inject(spec.kind, spec.action.clone().into(), 1) {
            return admin_error(e.to_string());
        }
    }
    for spec in specs {
        // Already validated above, so this cannot fail.
        let _ = faults.inject(spec.kind, spec.action.into(), spec.times);
    }
    (StatusCode::CREATED, listing(&faults)).into_response()
}

async fn clear(State(faults): State<Faults>) -> StatusCode {
    faults.clear();
    StatusCode::NO_CONTENT
}

fn admin_error(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "Code": "InvalidArgument", "Message": message })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;

    fn fail(status: u16, code: &str) -> FaultAction {
        FaultAction::Fail {
            status,
            code: code.to_owned(),
            message: format!("injected {code}"),
        }
    }

    #[test]
    fn faults_are_consumed_in_order_and_per_kind() {
        let f = Faults::new();
        f.inject(FaultKind::Commit, fail(500, "InternalServerError"), 2)
            .unwrap();
        f.inject(FaultKind::Commit, FaultAction::ApplyThenDrop, 1)
            .unwrap();
        f.inject(FaultKind::BlockUpload, FaultAction::DropConnection, 1)
            .unwrap();

        assert_eq!(f.take(FaultKind::StreamWrite), None);
        assert_eq!(
            f.take(FaultKind::BlockUpload),
            Some(FaultAction::DropConnection)
        );
        assert_eq!(f.take(FaultKind::BlockUpload), None);
        assert_eq!(
            f.take(FaultKind::Commit),
            Some(fail(500, "InternalServerError"))
        );
        assert_eq!(
            f.pending(),
            vec![
                PendingFault {
                    kind: FaultKind::Commit,
                    action: fail(500, "InternalServerError"),
                    remaining: 1
                },
                PendingFault {
                    kind: FaultKind::Commit,
                    action: FaultAction::ApplyThenDrop,
                    remaining: 1
                },
            ]
        );
        assert_eq!(
            f.take(FaultKind::Commit),
            Some(fail(500, "InternalServerError"))
        );
        assert_eq!(f.take(FaultKind::Commit), Some(FaultAction::ApplyThenDrop));
        assert_eq!(f.take(FaultKind::Commit), None);
        assert!(f.pending().is_empty());
    }

    #[test]
    fn clones_share_and_clear_empties() {
        let f = Faults::new();
        let g = f.clone();
        f.inject(FaultKind::AssumeRole, FaultAction::DropConnection, 3)
            .unwrap();
        assert_eq!(
            g.take(FaultKind::AssumeRole),
            Some(FaultAction::DropConnection)
        );
        assert_eq!(f.pending()[0].remaining, 2);
        g.clear();
        assert_eq!(f.take(FaultKind::AssumeRole), None);
        f.inject(FaultKind::AssumeRole, FaultAction::DropConnection, 0)
            .unwrap();
        assert!(f.pending().is_empty());
    }

    #[test]
    fn invalid_injections_are_refused() {
        let f = Faults::new();
        assert_eq!(
            f.inject(FaultKind::BlockUpload, FaultAction::ApplyThenDrop, 1),
            Err(InjectError::CannotApply(FaultKind::BlockUpload))
        );
        assert_eq!(
            f.inject(FaultKind::Commit, fail(200, "Ok"), 1),
            Err(InjectError::StatusNotAnError(200))
        );
        assert_eq!(
            f.inject(FaultKind::Commit, fail(500, ""), 1),
            Err(InjectError::EmptyCode)
        );
        assert!(f.pending().is_empty());
    }

    #[tokio::test]
    async fn intercept_delays_then_proceeds() {
        let f = Faults::new();
        f.inject(
            FaultKind::StreamWrite,
            FaultAction::Delay(Duration::from_secs(3600)),
            1,
        )
        .unwrap();
        // Two tokio timers: the 10 ms one always fires before the hour-long delay ends.
        let stalled = tokio::time::timeout(
            Duration::from_millis(10),
            f.intercept(FaultKind::StreamWrite, "r1"),
        )
        .await;
        assert!(
            stalled.is_err(),
            "a delayed request must not proceed at once"
        );
        assert!(f.pending().is_empty(), "the delay was consumed");

        f.inject(
            FaultKind::StreamWrite,
            FaultAction::Delay(Duration::from_millis(1)),
            1,
        )
        .unwrap();
        assert!(matches!(
            f.intercept(FaultKind::StreamWrite, "r2").await,
            Interception::Proceed
        ));
        assert!(matches!(
            f.intercept(FaultKind::StreamWrite, "r3").await,
            Interception::Proceed
        ));
    }

    #[tokio::test]
    async fn fail_response_has_tunnel_error_shape() {
        let f = Faults::new();
        f.inject(FaultKind::CreateSession, fail(503, "ServiceUnavailable"), 1)
            .unwrap();
        let Interception::Respond(r) = f.intercept(FaultKind::CreateSession, "REQ-1").await else {
            panic!("expected a response");
        };
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()["x-odps-request-id"], "REQ-1");
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "Code": "ServiceUnavailable",
                "Message": "injected ServiceUnavailable",
                "RequestId": "REQ-1"
            })
        );
    }

    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    /// A handler shaped like the server's: intercept, apply, then answer or drop.
    fn counting_app(faults: Faults, applied: Arc<Mutex<u32>>) -> Router {
        Router::new().route(
            "/commit",
            post(move || {
                let faults = faults.clone();
                let applied = applied.clone();
                async move {
                    let interception = faults.intercept(FaultKind::Commit, "REQ").await;
                    if let Interception::Respond(r) = interception {
                        return r;
                    }
                    *applied.lock().unwrap() += 1;
                    match interception {
                        Interception::ApplyThenDrop => drop_connection_response(),
                        _ => "committed".into_response(),
                    }
                }
            }),
        )
    }

    #[tokio::test]
    async fn reqwest_sees_dropped_connections_as_errors() {
        let faults = Faults::new();
        let applied = Arc::new(Mutex::new(0));
        let base = serve(counting_app(faults.clone(), applied.clone())).await;
        let client = reqwest::Client::new();
        faults
            .inject(FaultKind::Commit, FaultAction::DropConnection, 1)
            .unwrap();
        faults
            .inject(FaultKind::Commit, FaultAction::ApplyThenDrop, 1)
            .unwrap();

        let err = client
            .post(format!("{base}/commit"))
            .send()
            .await
            .expect_err("dropped connection must not produce a response");
        assert!(err.status().is_none(), "{err:?}");
        assert_eq!(
            *applied.lock().unwrap(),
            0,
            "drop_connection must not apply"
        );

        let err = client
            .post(format!("{base}/commit"))
            .send()
            .await
            .expect_err("apply_then_drop must not produce a response");
        assert!(err.status().is_none(), "{err:?}");
        assert_eq!(*applied.lock().unwrap(), 1, "apply_then_drop must apply");

        let ok = client.post(format!("{base}/commit")).send().await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.text().await.unwrap(), "committed");
        assert_eq!(*applied.lock().unwrap(), 2);
    }

    #[tokio::test]
    async fn admin_api_injects_lists_and_clears() {
        let faults = Faults::new();
        let base = serve(Router::new().nest("/__admin/faults", admin_router(faults.clone()))).await;
        let url = format!("{base}/__admin/faults");
        let client = reqwest::Client::new();

        let r = client
            .post(&url)
            .body(
                r#"[{"kind":"commit","action":"fail","status":500,"code":"InternalServerError","message":"boom","times":2},
                    {"kind":"block_upload","action":"delay","delay_ms":1500},
                    {"kind":"stream_write","action":"apply_then_drop"}]"#,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let listed: Vec<FaultSpec> = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(listed.len(), 3);
        assert_eq!(
            faults.take(FaultKind::BlockUpload),
            Some(FaultAction::Delay(Duration::from_millis(1500)))
        );
        assert_eq!(
            faults.take(FaultKind::Commit),
            Some(FaultAction::Fail {
                status: 500,
                code: "InternalServerError".into(),
                message: "boom".into()
            })
        );

        let r = client
            .post(&url)
            .body(r#"{"kind":"table_metadata","action":"drop_connection"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);

        let r = client.get(&url).send().await.unwrap();
        let listed: Vec<FaultSpec> = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(
            listed,
            vec![
                FaultSpec {
                    kind: FaultKind::Commit,
                    action: ActionSpec::Fail {
                        status: 500,
                        code: "InternalServerError".into(),
                        message: "boom".into()
                    },
                    times: 1
                },
                FaultSpec {
                    kind: FaultKind::StreamWrite,
                    action: ActionSpec::ApplyThenDrop,
                    times: 1
                },
                FaultSpec {
                    kind: FaultKind::TableMetadata,
                    action: ActionSpec::DropConnection,
                    times: 1
                },
            ]
        );

        // A bad entry refuses the whole request and queues nothing.
        let r = client
            .post(&url)
            .body(
                r#"[{"kind":"commit","action":"drop_connection"},
                    {"kind":"block_upload","action":"apply_then_drop"}]"#,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = client.post(&url).body("{not json").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(faults.pending().len(), 3);

        let r = client.delete(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert!(faults.pending().is_empty());
    }
}
