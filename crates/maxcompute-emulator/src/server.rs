//! Starting and stopping the server: one port serves the REST API under `/api`, the tunnel at
//! the root, STS under `/sts/` and the fault admin endpoint under `/__admin/faults`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::Utc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth::{Authenticator, SignedRequest};
use crate::catalog::{Catalog, CatalogError};
use crate::config::EmulatorConfig;
use crate::error::{ErrorFormat, OdpsError};
use crate::faults::{self, Faults};
use crate::quota::Quota;
use crate::request::{is_api_path, signed_resource, Query};
use crate::state::{AppState, Inner};
use crate::sts::{self, Sts};
use crate::tunnel::sessions::Sessions;
use crate::{rest, tunnel};

/// Largest request body accepted (a block may be large; the real limit is 100 GB per block).
const MAX_BODY: usize = 1 << 30;

/// The emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the data directory: {0}")]
    Catalog(#[from] CatalogError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A running emulator. Dropping it does not stop the server; call [`shutdown`](Self::shutdown).
pub struct EmulatorHandle {
    addr: SocketAddr,
    catalog: Catalog,
    faults: Faults,
    sts: Sts,
    shutdown: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl EmulatorHandle {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The REST API endpoint, `http://127.0.0.1:PORT/api`.
    pub fn api_endpoint(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// The tunnel endpoint, `http://127.0.0.1:PORT`.
    pub fn tunnel_endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The STS endpoint, `http://127.0.0.1:PORT/sts/`.
    pub fn sts_endpoint(&self) -> String {
        format!("http://{}/sts/", self.addr)
    }

    /// Tables and data: create tables from DDL, read committed rows.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Fault injection for the next requests.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The STS service (issued credentials, its clock).
    pub fn sts(&self) -> &Sts {
        &self.sts
    }

    /// Stops accepting connections, lets in-flight requests finish and waits for the server.
    pub async fn shutdown(&self) {
        let sender = self
            .shutdown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(sender) = sender {
            let _ = sender.send(());
        }
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "emulator task ended abnormally");
            }
        }
    }
}

/// Opens the data directory and starts serving on `config.bind`.
pub async fn start(config: EmulatorConfig) -> Result<EmulatorHandle, StartError> {
    let catalog = Catalog::open(&config.data_dir, &config.projects)?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.bind,
        source,
    })?;
    let faults = Faults::new();
    let accounts: HashMap<String, String> = config
        .accounts
        .iter()
        .map(|a| (a.access_id.clone(), a.secret.clone()))
        .collect();
    let sts = Sts::new(config.sts.clone(), accounts.clone()).with_faults(faults.clone());
    let state = AppState(Arc::new(Inner {
        catalog: catalog.clone(),
        sessions: Sessions::default(),
        auth: Authenticator::new(accounts, config.max_clock_skew, Arc::new(sts.clone())),
        faults: faults.clone(),
        quota: config.quota.map(Quota::new).unwrap_or_default(),
        host: addr.to_string(),
        max_field_size: config.max_field_size,
        session_ttl: config.session_ttl,
        instances: Mutex::default(),
    }));
    let app = app(state, sts.clone(), faults.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "emulator server failed");
        }
    });
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "mc-emulator listening");
    Ok(EmulatorHandle {
        addr,
        catalog,
        faults,
        sts,
        shutdown: Mutex::new(Some(tx)),
        task: Mutex::new(Some(task)),
    })
}

fn app(state: AppState, sts: Sts, faults: Faults) -> Router {
    let signed = Router::new()
        .nest("/api", rest::router())
        .merge(tunnel::router())
        .fallback(not_emulated)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state);
    signed
        .merge(sts::router(sts))
        .nest("/__admin/faults", faults::admin_router(faults))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

async fn not_emulated(request: Request) -> Response {
    let path = request.uri().path().to_string();
    let format = if is_api_path(&path) {
        ErrorFormat::Xml
    } else {
        ErrorFormat::Json
    };
    OdpsError::not_emulated(request.method().as_str(), &path)
        .with_format(format)
        .into_response()
}

/// Verifies the signature and date of every REST and tunnel request before it is handled.
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let query = Query::parse(request.uri().query());
    let resource = signed_resource(&path);
    let signed = SignedRequest {
        method: request.method().as_str(),
        resource: &resource,
        query: query.pairs(),
        headers: request.headers(),
    };
    match state.auth.verify(&signed, Utc::now()) {
        Ok(principal) => {
            tracing::debug!(method = %request.method(), %path, access_id = %principal.access_id, "request");
            next.run(request).await
        }
        Err(e) => {
            tracing::info!(method = %request.method(), %path, code = %e.code, "request refused");
            let format = if is_api_path(&path) {
                ErrorFormat::Xml
            } else {
                ErrorFormat::Json
            };
            e.with_format(format).into_response()
        }
    }
}
