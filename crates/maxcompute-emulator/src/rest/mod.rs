//! The REST API under `/api`: project and table metadata, partition listings, tunnel endpoint
//! discovery, SQL instances for `ALTER TABLE … ADD PARTITION` and `CREATE TABLE`, and the calls
//! pyodps makes on its own. Errors are XML `<Error>` documents.

mod instances;
pub mod response;
pub mod xml;

use axum::extract::{Path, State};
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;

use crate::error::{ErrorCode, OdpsError};
use crate::faults::{self, FaultCheck, FaultKind, Faults};
use crate::partition::{parse_pairs, ResolvedPartitionSpec};
use crate::request::{Query, TableRef};
use crate::state::AppState;
use response::{PlainText, Xml};

/// The REST routes, relative to `/api`; `faults` are checked in front of table metadata reads.
pub fn router(faults: &Faults) -> Router<AppState> {
    let metadata_faults = FaultCheck::new(faults.clone(), |_, _| Some(FaultKind::TableMetadata));
    let table = get(table_metadata).route_layer(middleware::from_fn_with_state(
        metadata_faults,
        faults::check,
    ));
    Router::new()
        .route("/projects/{project}", get(project))
        .route("/projects/{project}/tables/{table}", table.clone())
        .route("/projects/{project}/schemas/{schema}/tables/{table}", table)
        .route("/projects/{project}/tunnel", get(tunnel_service))
        .route("/projects/{project}/instances", post(instances::create))
        .route("/projects/{project}/instances/{id}", get(instances::status))
        .route("/logview/host", get(logview_host))
}

/// `NoSuchProject` unless `project` exists.
fn existing_project(state: &AppState, project: &str) -> Result<(), OdpsError> {
    if state.catalog.project_exists(project) {
        Ok(())
    } else {
        Err(OdpsError::not_found(
            ErrorCode::NoSuchProject,
            "project",
            project,
        ))
    }
}

async fn project(
    State(state): State<AppState>,
    Path(project): Path<String>,
) -> Result<Xml, OdpsError> {
    existing_project(&state, &project)?;
    Ok(Xml(xml::project(&project)))
}

/// `GET …/tables/<t>` with `?extended`, `?partition=<spec>` or `?partitions`.
async fn table_metadata(
    State(state): State<AppState>,
    Path(TableRef { project, table }): Path<TableRef>,
    query: Query,
) -> Result<Xml, OdpsError> {
    let info = state.catalog.table(&project, &table)?;
    let parts = state.catalog.partitions(&info.project, &info.name)?;
    if query.has("partitions") {
        let prefix = match query.get("partition").filter(|p| !p.is_empty()) {
            Some(raw) => parse_pairs(raw)?,
            None => Vec::new(),
        };
        let listed: Vec<_> = parts
            .into_iter()
            .filter(|p| !p.spec.is_empty() && p.spec.matches_prefix(&prefix))
            .collect();
        return Ok(Xml(xml::partitions(&listed)));
    }
    if query.has("partition") {
        let spec = ResolvedPartitionSpec::resolve(&info.schema, query.get("partition"))?;
        let part = parts.into_iter().find(|p| p.spec == spec).ok_or_else(|| {
            OdpsError::not_found(ErrorCode::NoSuchPartition, "partition", spec.to_quoted())
        })?;
        return Ok(Xml(xml::partition(&part)));
    }
    let last_modified = parts
        .iter()
        .map(|p| p.last_modified)
        .max()
        .unwrap_or(info.created);
    let size = parts.iter().map(|p| p.size).sum();
    let records = parts.iter().map(|p| p.record_count).sum();
    Ok(Xml(xml::table(&info, last_modified, size, records)))
}

/// `GET /projects/<p>/tunnel?service`: the tunnel's `host:port`, as plain text.
async fn tunnel_service(
    State(state): State<AppState>,
    Path(project): Path<String>,
) -> Result<PlainText, OdpsError> {
    existing_project(&state, &project)?;
    Ok(PlainText(state.host.clone()))
}

/// `GET /logview/host`: no logview here, but pyodps asks at construction.
async fn logview_host(State(state): State<AppState>) -> PlainText {
    PlainText(format!("http://{}/logview", state.host))
}
