//! The fault check: a layer in front of the handlers a fault can hit. It tells which
//! [`FaultKind`] a request is, consumes the next fault queued for that kind and acts it out:
//! answer with the injected error, wait and go on, drop the connection before the handler runs,
//! or run the handler and drop the connection instead of sending its answer.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderValue, Method, StatusCode};

use super::{FaultAction, FaultKind, Faults};
use crate::error::REQUEST_ID_HEADER;
use crate::request::Query;
use crate::request_id::RequestId;

/// Which kind of fault, if any, can hit a request, from its method and query parameters (the
/// route is known where the check is layered).
pub type Classify = fn(&Method, &Query) -> Option<FaultKind>;

/// The state of the [`check`] middleware: the fault queue and how to classify requests.
#[derive(Clone)]
pub struct FaultCheck {
    faults: Faults,
    classify: Classify,
}

impl FaultCheck {
    pub fn new(faults: Faults, classify: Classify) -> Self {
        FaultCheck { faults, classify }
    }
}

/// Middleware (`axum::middleware::from_fn_with_state(FaultCheck, check)`) acting out the next
/// fault for the request's kind. The request body is read in full first, as the handlers read it
/// before a fault takes effect, so a fault always meets a completely received request.
pub async fn check(State(check): State<FaultCheck>, request: Request, next: Next) -> Response {
    let query = Query::parse(request.uri().query());
    let Some(kind) = (check.classify)(request.method(), &query) else {
        return next.run(request).await;
    };
    let request = match buffered(request).await {
        Ok(request) => request,
        Err(rejection) => return rejection,
    };
    let action = check.faults.take(kind);
    if let Some(FaultAction::Delay(delay)) = action {
        tokio::time::sleep(delay).await;
    }
    match action {
        None | Some(FaultAction::Delay(_)) => next.run(request).await,
        Some(FaultAction::Fail {
            status,
            code,
            message,
        }) => {
            let id = request
                .extensions()
                .get::<RequestId>()
                .cloned()
                .unwrap_or_default();
            fail_response(status, &code, &message, id.as_str())
        }
        Some(FaultAction::DropConnection) => drop_connection_response(),
        Some(FaultAction::ApplyThenDrop) => {
            let response = next.run(request).await;
            // Only a change that took effect is applied-then-dropped; a refusal is answered.
            if response.status().is_success() {
                drop_connection_response()
            } else {
                response
            }
        }
    }
}

/// The request with its body read into memory, through the `Bytes` extractor so that the body
/// limit and the rejection are the ones the handler's own extractor would apply.
async fn buffered(request: Request) -> Result<Request, Response> {
    let (parts, body) = request.into_parts();
    let mut whole = Request::new(body);
    // The body limit travels in the extensions.
    *whole.extensions_mut() = parts.extensions.clone();
    let bytes = Bytes::from_request(whole, &())
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// A tunnel-shaped error: JSON `{"Code","Message","RequestId"}` plus `x-odps-request-id`.
fn fail_response(status: u16, code: &str, message: &str, request_id: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({ "Code": code, "Message": message, "RequestId": request_id });
    let mut response = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}

/// The error a [`drop_connection_response`] body yields; it never reaches the client.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
struct ConnectionDropped;

/// A response that makes hyper abort the connection before anything is written.
///
/// hyper queues the status line and headers, then polls the body before flushing; a body whose
/// first poll fails makes hyper tear down the connection with nothing sent, so the client sees
/// the connection close (reqwest: an error from `send()`), exactly like a network failure.
fn drop_connection_response() -> Response {
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::routing::post;
    use axum::Router;

    use super::*;
    use crate::faults::tests::fail;
    use crate::test_support::serve;

    /// A commit endpoint behind the fault check that counts the commits it applied. `?refuse`
    /// makes it refuse the commit; `?other` is a request the check does not classify.
    fn counting_app(faults: Faults, applied: Arc<Mutex<u32>>) -> Router {
        let classify: Classify = |method, query| {
            (method == Method::POST && !query.has("other")).then_some(FaultKind::Commit)
        };
        Router::new()
            .route(
                "/commit",
                post(move |query: Query, body: Bytes| async move {
                    if query.has("refuse") {
                        return (StatusCode::CONFLICT, "refused").into_response();
                    }
                    *applied.lock().unwrap() += 1;
                    format!("committed {}", body.len()).into_response()
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                FaultCheck::new(faults, classify),
                check,
            ))
    }

    /// The counting app served, with a client for it and its counter.
    struct Fixture {
        faults: Faults,
        applied: Arc<Mutex<u32>>,
        base: String,
        client: reqwest::Client,
    }

    impl Fixture {
        async fn start(wrap: impl FnOnce(Router) -> Router) -> Fixture {
            let faults = Faults::new();
            let applied = Arc::new(Mutex::new(0));
            let base = serve(wrap(counting_app(faults.clone(), applied.clone()))).await;
            let client = reqwest::Client::new();
            Fixture {
                faults,
                applied,
                base,
                client,
            }
        }

        /// `POST /commit<query>` with a five-byte body.
        async fn commit(&self, query: &str) -> reqwest::Result<reqwest::Response> {
            let url = format!("{}/commit{query}", self.base);
            self.client.post(url).body("block").send().await
        }

        fn inject(&self, action: FaultAction) {
            self.faults.inject(FaultKind::Commit, action, 1).unwrap();
        }

        fn applied(&self) -> u32 {
            *self.applied.lock().unwrap()
        }
    }

    #[tokio::test]
    async fn delays_then_proceeds() {
        let f = Fixture::start(|app| app).await;
        f.inject(FaultAction::Delay(Duration::from_secs(3600)));
        let stalled = tokio::spawn({
            let request = f.client.post(format!("{}/commit", f.base));
            request.send()
        });
        // Wait until the check has taken the delay (bounded, for a loaded machine), then give the
        // request time it would need to pass: the hour-long delay still holds it.
        for _ in 0..1000 {
            if f.faults.pending().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(f.faults.pending().is_empty(), "the delay was consumed");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !stalled.is_finished(),
            "a delayed request must not proceed at once"
        );
        assert_eq!(f.applied(), 0);
        stalled.abort();

        f.inject(FaultAction::Delay(Duration::from_millis(1)));
        for _ in 0..2 {
            assert_eq!(f.commit("").await.unwrap().status(), StatusCode::OK);
        }
        assert_eq!(f.applied(), 2);
    }

    #[tokio::test]
    async fn fail_response_has_tunnel_error_shape() {
        let f = Fixture::start(|app| {
            app.layer(axum::middleware::from_fn(
                |mut request: Request, next: Next| async move {
                    request
                        .extensions_mut()
                        .insert(RequestId::from("REQ-1".to_owned()));
                    next.run(request).await
                },
            ))
        })
        .await;
        f.inject(fail(503, "ServiceUnavailable"));
        let r = f.commit("").await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()["x-odps-request-id"], "REQ-1");
        let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "Code": "ServiceUnavailable",
                "Message": "injected ServiceUnavailable",
                "RequestId": "REQ-1"
            })
        );
        assert_eq!(f.applied(), 0, "a failure must not apply");
    }

    #[tokio::test]
    async fn reqwest_sees_dropped_connections_as_errors() {
        let f = Fixture::start(|app| app).await;
        f.inject(FaultAction::DropConnection);
        f.inject(FaultAction::ApplyThenDrop);

        // Drop first: nothing applied; apply-then-drop second: applied, no answer either.
        for (applied, what) in [(0, "drop_connection"), (1, "apply_then_drop")] {
            let err = f
                .commit("")
                .await
                .expect_err("a dropped connection must not produce a response");
            assert!(err.status().is_none(), "{what}: {err:?}");
            assert_eq!(f.applied(), applied, "{what}");
        }

        let ok = f.commit("").await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.text().await.unwrap(), "committed 5");
        assert_eq!(f.applied(), 2);
    }

    #[tokio::test]
    async fn apply_then_drop_answers_a_refusal_and_other_requests_pass() {
        let f = Fixture::start(|app| app).await;
        f.inject(FaultAction::DropConnection);
        // Not a kind the check classifies: the queued fault stays.
        assert_eq!(f.commit("?other").await.unwrap().status(), StatusCode::OK);
        assert_eq!(f.faults.pending().len(), 1);
        f.faults.clear();

        f.inject(FaultAction::ApplyThenDrop);
        let refused = f.commit("?refuse").await.unwrap();
        assert_eq!(refused.status(), StatusCode::CONFLICT);
        assert!(f.faults.pending().is_empty());
        assert_eq!(f.applied(), 1);
    }
}
