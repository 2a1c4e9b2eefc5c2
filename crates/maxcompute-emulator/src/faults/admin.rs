//! The fault admin API, `/__admin/faults` (unsigned, local only): what the library calls
//! ([`Faults::inject`], [`Faults::pending`], [`Faults::clear`]) over HTTP, for tests that drive
//! a separately running emulator.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{FaultAction, FaultKind, Faults, PendingFault};

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

/// A refused admin request: `400` with a JSON `{"Code":"InvalidArgument","Message"}`.
#[derive(Debug)]
struct AdminError(String);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "Code": "InvalidArgument", "Message": self.0 });
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    }
}

async fn inject(
    State(faults): State<Faults>,
    body: Bytes,
) -> Result<(StatusCode, Json<Vec<FaultSpec>>), AdminError> {
    let specs = match serde_json::from_slice::<OneOrMany>(&body) {
        Ok(OneOrMany::One(s)) => vec![s],
        Ok(OneOrMany::Many(v)) => v,
        Err(e) => return Err(AdminError(format!("invalid fault JSON: {e}"))),
    };
    // Validate everything first so a bad entry does not leave half of a request applied.
    for spec in &specs {
        Faults::new()
            .inject(spec.kind, spec.action.clone().into(), 1)
            .map_err(|e| AdminError(e.to_string()))?;
    }
    for spec in specs {
        // Already validated above, so this cannot fail.
        let _ = faults.inject(spec.kind, spec.action.into(), spec.times);
    }
    Ok((StatusCode::CREATED, listing(&faults)))
}

async fn clear(State(faults): State<Faults>) -> StatusCode {
    faults.clear();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::serve;

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
