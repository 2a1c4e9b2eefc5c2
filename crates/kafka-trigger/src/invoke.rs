//! Invokes the function through the Lambda Invoke API of a local runtime (cargo lambda watch:
//! `POST /2015-03-31/functions/<name>/invocations`) and decides whether it succeeded. What a
//! successful response says about single records is `response`'s business.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

/// The most of a response body kept in an error, so a huge payload cannot flood the logs.
const BODY_EXCERPT: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("cannot reach the function at {url}: {source}")]
    Transport { url: String, source: reqwest::Error },
    #[error("function returned HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("function error ({kind}): {body}")]
    Function { kind: String, body: String },
}

impl InvokeError {
    /// The function was never reached. Lambda retries such batches until their records expire,
    /// without counting retries or splitting the batch.
    pub fn before_invocation(&self) -> bool {
        matches!(self, InvokeError::Transport { .. })
    }

    /// `statusCode` and `functionError` of the response, as a failure record reports them;
    /// `None` when the function was not reached.
    pub fn response_context(&self) -> Option<(u16, String)> {
        match self {
            InvokeError::Transport { .. } => None,
            InvokeError::Status { status, .. } => Some((*status, "Unhandled".to_string())),
            InvokeError::Function { kind, .. } => Some((200, kind.clone())),
        }
    }
}

/// A response without any error marker.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

pub struct Invoker {
    client: reqwest::Client,
    url: String,
}

impl Invoker {
    pub fn new(url: &str) -> Result<Invoker, reqwest::Error> {
        Ok(Invoker {
            client: reqwest::Client::builder().build()?,
            url: url.to_string(),
        })
    }

    /// Sends one event payload; `Ok` only if the function reported success.
    pub async fn invoke(&self, payload: Vec<u8>) -> Result<Response, InvokeError> {
        let transport = |source| InvokeError::Transport {
            url: self.url.clone(),
            source,
        };
        let response = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(payload)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?;
        classify(status, &headers, &body)?;
        Ok(Response {
            status: status.as_u16(),
            body: body.to_vec(),
        })
    }
}

/// A function error is any of: a non-200 status, the runtime's `X-Amz-Function-Error` header,
/// or an `errorType`/`errorMessage` body (what the runtime API reports for a handler error).
pub fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Result<(), InvokeError> {
    let excerpt = || excerpt(body);
    if let Some(kind) = headers.get("x-amz-function-error") {
        return Err(InvokeError::Function {
            kind: String::from_utf8_lossy(kind.as_bytes()).into_owned(),
            body: excerpt(),
        });
    }
    if status != StatusCode::OK {
        return Err(InvokeError::Status {
            status: status.as_u16(),
            body: excerpt(),
        });
    }
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) {
        if map.contains_key("errorType") || map.contains_key("errorMessage") {
            let kind = map
                .get("errorType")
                .and_then(|v| v.as_str())
                .unwrap_or("Unhandled")
                .to_string();
            return Err(InvokeError::Function {
                kind,
                body: excerpt(),
            });
        }
    }
    Ok(())
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    match text.char_indices().nth(BODY_EXCERPT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(function_error: Option<&'static str>) -> HeaderMap {
        let mut map = HeaderMap::new();
        if let Some(v) = function_error {
            map.insert("X-Amz-Function-Error", HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn success_is_200_without_error_markers() {
        assert!(classify(StatusCode::OK, &headers(None), b"{\"ok\":3}").is_ok());
        assert!(classify(StatusCode::OK, &headers(None), b"null").is_ok());
        assert!(classify(StatusCode::OK, &headers(None), b"").is_ok());
    }

    #[test]
    fn each_error_marker_is_a_failure() {
        let err = classify(StatusCode::OK, &headers(Some("Unhandled")), b"{}").unwrap_err();
        assert!(matches!(err, InvokeError::Function { ref kind, .. } if kind == "Unhandled"));

        let err = classify(StatusCode::INTERNAL_SERVER_ERROR, &headers(None), b"boom").unwrap_err();
        assert!(matches!(err, InvokeError::Status { status: 500, ref body } if body == "boom"));

        let body = br#"{"errorType":"SinkError","errorMessage":"tunnel commit failed"}"#;
        let err = classify(StatusCode::OK, &headers(None), body).unwrap_err();
        assert!(matches!(err, InvokeError::Function { ref kind, .. } if kind == "SinkError"));
    }

    #[test]
    fn long_bodies_are_cut() {
        let body = "é".repeat(BODY_EXCERPT * 2);
        let err = classify(StatusCode::BAD_GATEWAY, &headers(None), body.as_bytes()).unwrap_err();
        let InvokeError::Status { body, .. } = err else {
            panic!("expected a status error, got {err:?}");
        };
        assert_eq!(body.chars().count(), BODY_EXCERPT + 1);
    }
}
