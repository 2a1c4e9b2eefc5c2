//! Starting and stopping the server: one port serves the REST API under `/api`, the tunnel at
//! the root, STS under `/sts/` and the fault admin endpoint under `/__admin/faults`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::middleware;
use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth::{self, Authenticator};
use crate::catalog::{Catalog, CatalogError};
use crate::config::EmulatorConfig;
use crate::error::OdpsError;
use crate::faults::{self, Faults};
use crate::quota::Quota;
use crate::state::{AppState, Inner};
use crate::sts::{self, Sts};
use crate::tunnel::sessions::Sessions;
use crate::{request_id, rest, tunnel};

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
    let sts = Sts::new(config.sts.clone(), accounts.clone());
    let auth = Authenticator::new(accounts, config.max_clock_skew, sts.clone());
    let state = AppState(Arc::new(Inner {
        catalog: catalog.clone(),
        sessions: Sessions::default(),
        quota: config.quota.map(Quota::new).unwrap_or_default(),
        host: addr.to_string(),
        max_field_size: config.max_field_size,
        session_ttl: config.session_ttl,
        instances: Mutex::default(),
    }));
    let app = app(state, auth, sts.clone(), faults.clone());
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

/// The REST API under `/api` and the tunnel, each request through the request-id layer, then
/// authentication, then the fault check where a fault can hit; STS and the fault admin API
/// beside them, unsigned.
fn app(state: AppState, auth: Authenticator, sts: Sts, faults: Faults) -> Router {
    let signed = Router::new()
        .nest("/api", rest::router(&faults))
        .merge(tunnel::router(&faults))
        .fallback(not_emulated)
        // The last layer added runs first.
        .layer(middleware::from_fn_with_state(auth, auth::authenticate))
        .layer(middleware::from_fn(request_id::stamp))
        .with_state(state);
    signed
        .merge(sts::router(sts, faults.clone()))
        .nest("/__admin/faults", faults::admin_router(faults))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

async fn not_emulated(method: Method, uri: Uri) -> OdpsError {
    OdpsError::not_emulated(method.as_str(), uri.path())
}
