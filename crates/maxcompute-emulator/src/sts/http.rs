//! The AssumeRole endpoint over HTTP: GET with a query, or POST with a query and/or a form body,
//! behind its layers (the call count, the request id, the fault check).

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::any;
use axum::{Json, Router};
use serde_json::Value;

use super::rpc::{Params, RpcError, RpcErrorReply};
use super::Sts;
use crate::faults::{self, FaultCheck, FaultKind, Faults};
use crate::request_id::RequestId;

/// Path of the AssumeRole endpoint; `/sts/` (trailing slash) is served too.
pub const STS_PATH: &str = "/sts";

/// The AssumeRole endpoint at [`STS_PATH`] and `STS_PATH/`, where `faults` of kind
/// [`FaultKind::AssumeRole`] hit it. Add it with `Router::merge`: axum's `nest` would not route
/// the trailing-slash form, which RPC clients commonly send (`endpoint + "/?" + query`).
pub fn router(sts: Sts, faults: Faults) -> Router {
    let fault_check = FaultCheck::new(faults, |_, _| Some(FaultKind::AssumeRole));
    let endpoint = any(assume_role)
        // The last layer added runs first: every call is counted, even one a fault answers.
        .layer(middleware::from_fn_with_state(fault_check, faults::check))
        .layer(middleware::from_fn(assign_request_id))
        .layer(middleware::from_fn_with_state(sts.clone(), count_call))
        .with_state(sts);
    Router::new()
        .route(STS_PATH, endpoint.clone())
        .route(&format!("{STS_PATH}/"), endpoint)
}

async fn count_call(State(sts): State<Sts>, request: Request, next: Next) -> Response {
    sts.count_call();
    next.run(request).await
}

/// Gives the call an id in the shape STS uses (an upper-case UUID), for its answer and for an
/// injected failure alike.
async fn assign_request_id(mut request: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string().to_ascii_uppercase();
    request.extensions_mut().insert(RequestId::from(id));
    next.run(request).await
}

async fn assume_role(
    State(sts): State<Sts>,
    request_id: RequestId,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, RpcErrorReply> {
    let reply = |error: RpcError| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("sts.aliyuncs.com");
        error.reply(request_id.as_str(), host)
    };
    if method != Method::GET && method != Method::POST {
        return Err(reply(RpcError::no_such_action()));
    }
    let params = Params::from_request(&uri, &headers, &body).map_err(reply)?;
    let answer = sts.assume_role(&method, &params).map_err(|e| {
        tracing::info!(code = e.code, status = e.status, "AssumeRole refused");
        reply(e)
    })?;
    Ok(Json(answer.to_json(request_id.as_str())))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::super::test_support::*;
    use super::*;
    use crate::faults::FaultAction;

    async fn serve(sts: Sts, faults: Faults) -> String {
        let base = crate::test_support::serve(router(sts, faults)).await;
        format!("{base}/sts")
    }

    /// A signed AssumeRole call as a POST form to `url`.
    async fn post_form(url: &str, nonce: &str, secret: &str) -> reqwest::Response {
        let form = encode(&signed("POST", unsigned(nonce), secret));
        reqwest::Client::new()
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn http_get_and_post_form() {
        let sts = sts();
        let base = serve(sts.clone(), Faults::new()).await;
        let client = reqwest::Client::new();

        let q = encode(&signed("GET", unsigned("g"), "caller-secret"));
        let r = client.get(format!("{base}?{q}")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert!(v["Credentials"]["AccessKeyId"]
            .as_str()
            .unwrap()
            .starts_with("STS."));

        let r = post_form(&format!("{base}/"), "p", "caller-secret").await;
        assert_eq!(r.status(), 200);

        let r = post_form(&base, "bad", "nope").await;
        assert_eq!(r.status(), 400);
        let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(v["Code"], "SignatureDoesNotMatch");
        for key in ["RequestId", "HostId", "Message", "Recommend"] {
            assert!(
                v[key].as_str().is_some_and(|s| !s.is_empty()),
                "{key} in {v}"
            );
        }
        assert_eq!(sts.assume_role_calls(), 3);
        assert_eq!(sts.credentials_issued(), 2);
    }

    #[tokio::test]
    async fn http_assume_role_faults() {
        let faults = Faults::new();
        let sts = sts();
        let base = serve(sts.clone(), faults.clone()).await;
        faults
            .inject(
                FaultKind::AssumeRole,
                FaultAction::Fail {
                    status: 503,
                    code: "ServiceUnavailable".into(),
                    message: "try later".into(),
                },
                1,
            )
            .unwrap();
        faults
            .inject(FaultKind::AssumeRole, FaultAction::DropConnection, 1)
            .unwrap();
        let client = reqwest::Client::new();
        let url = |n: &str| {
            format!(
                "{base}?{}",
                encode(&signed("GET", unsigned(n), "caller-secret"))
            )
        };

        let r = client.get(url("f1")).send().await.unwrap();
        assert_eq!(r.status(), 503);
        let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(v["Code"], "ServiceUnavailable");

        let err = client.get(url("f2")).send().await.unwrap_err();
        assert!(!err.is_status(), "{err:?}");

        let r = client.get(url("f3")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(sts.assume_role_calls(), 3);
        assert_eq!(sts.credentials_issued(), 1);
    }
}
