//! The REST API under `/api` (§2, §3.8, §6): table and partition metadata, tunnel endpoint
//! discovery, SQL instances for `ALTER TABLE … ADD PARTITION` and `CREATE TABLE`, and the calls
//! pyodps makes on its own. Errors are XML `<Error>` documents.

mod instances;
pub mod xml;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http::{HeaderValue, StatusCode};

use crate::error::{new_request_id, ErrorFormat, OdpsError, REQUEST_ID_HEADER};
use crate::faults::FaultKind;
use crate::partition::{parse_pairs, PartitionSpec};
use crate::request::{Query, TableRef};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/projects/{project}", get(project))
        .route("/projects/{project}/tables/{table}", get(table_metadata))
        .route(
            "/projects/{project}/schemas/{schema}/tables/{table}",
            get(table_metadata),
        )
        .route("/projects/{project}/tunnel", get(tunnel_service))
        .route("/projects/{project}/instances", post(instances::create))
        .route("/projects/{project}/instances/{id}", get(instances::status))
        .route("/logview/host", get(logview_host))
}

/// An XML (or text) body with the request id header.
pub fn xml_response(
    status: StatusCode,
    request_id: &str,
    content_type: &'static str,
    body: String,
) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(REQUEST_ID_HEADER, v);
    }
    response
}

fn xml_error(e: OdpsError, request_id: &str) -> Response {
    e.with_format(ErrorFormat::Xml)
        .into_response_with_id(request_id)
}

async fn project(State(state): State<AppState>, Path(project): Path<String>) -> Response {
    let id = new_request_id();
    if !state.catalog.project_exists(&project) {
        return xml_error(OdpsError::no_such_project(&project), &id);
    }
    xml_response(
        StatusCode::OK,
        &id,
        "application/xml",
        xml::project(&project),
    )
}

/// `GET …/tables/<t>` with `?extended`, `?partition=<spec>` or `?partitions`.
async fn table_metadata(
    State(state): State<AppState>,
    Path(TableRef { project, table }): Path<TableRef>,
    query: Query,
) -> Response {
    let id = new_request_id();
    if let Some(response) = state.faults.reject(FaultKind::TableMetadata, &id).await {
        return response;
    }
    let result = (|| {
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
            return Ok(xml::partitions(&listed));
        }
        if query.has("partition") {
            let spec = PartitionSpec::resolve(&info.schema, query.get("partition"))?;
            let part = parts
                .into_iter()
                .find(|p| p.spec == spec)
                .ok_or_else(|| OdpsError::no_such_partition(&spec.to_quoted()))?;
            return Ok(xml::partition(&part));
        }
        let last_modified = parts
            .iter()
            .map(|p| p.last_modified)
            .max()
            .unwrap_or(info.created);
        let size = parts.iter().map(|p| p.size).sum();
        let records = parts.iter().map(|p| p.record_count).sum();
        Ok::<_, OdpsError>(xml::table(&info, last_modified, size, records))
    })();
    match result {
        Ok(body) => xml_response(StatusCode::OK, &id, "application/xml", body),
        Err(e) => xml_error(e, &id),
    }
}

/// `GET /projects/<p>/tunnel?service`: the tunnel's `host:port`, as plain text.
async fn tunnel_service(State(state): State<AppState>, Path(project): Path<String>) -> Response {
    let id = new_request_id();
    if !state.catalog.project_exists(&project) {
        return xml_error(OdpsError::no_such_project(&project), &id);
    }
    xml_response(StatusCode::OK, &id, "text/plain", state.host.clone())
}

/// `GET /logview/host`: no logview here, but pyodps asks at construction.
async fn logview_host(State(state): State<AppState>) -> Response {
    let id = new_request_id();
    xml_response(
        StatusCode::OK,
        &id,
        "text/plain",
        format!("http://{}/logview", state.host),
    )
}
