//! SQL instances, just enough for the DDL pyodps issues (it creates partitions through SQL):
//! `ALTER TABLE [p.]t ADD [IF NOT EXISTS] PARTITION (k='v', ...) [PARTITION (...)]...;` and
//! `CREATE TABLE ...` (pyodps `create_table`). The statement runs when the instance is created;
//! status polls then report it `Terminated` with the task `Success`. Any other SQL is refused
//! with `400 InvalidArgument` rather than pretending to run it.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use chrono::Utc;
use http::header::LOCATION;
use http::StatusCode;

use super::existing_project;
use super::response::Xml;
use crate::error::{xml_escape, ErrorCode, OdpsError};
use crate::partition::ResolvedPartitionSpec;
use crate::request::Query;
use crate::request_id::RequestId;
use crate::state::{AppState, InstanceRecord};

/// The text of the first `<Query>` element (CDATA or escaped text).
fn query_text(body: &str) -> Option<String> {
    let start = body.find("<Query>")? + "<Query>".len();
    let end = start + body[start..].find("</Query>")?;
    let inner = body[start..end].trim();
    if let Some(cdata) = inner.strip_prefix("<![CDATA[") {
        return cdata.strip_suffix("]]>").map(str::to_string);
    }
    quick_xml::escape::unescape(inner)
        .ok()
        .map(|s| s.into_owned())
}

/// Splits `name` into the table name, dropping a `project.` or `project.schema.` qualifier and
/// backquotes.
fn table_name(raw: &str) -> (Option<String>, String) {
    let parts: Vec<String> = raw
        .split('.')
        .map(|p| p.trim().trim_matches('`').to_string())
        .collect();
    let table = parts.last().cloned().unwrap_or_default();
    let project = (parts.len() > 1).then(|| parts[0].clone());
    (project, table)
}

/// Runs `ALTER TABLE t ADD [IF NOT EXISTS] PARTITION (...) ...`.
fn add_partitions(state: &AppState, project: &str, sql: &str) -> Result<(), OdpsError> {
    let rest = sql.trim().trim_end_matches(';').trim();
    let unsupported = || {
        OdpsError::new(ErrorCode::InvalidArgument, format!(
            "ODPS-0130161: the emulator runs only ALTER TABLE … ADD [IF NOT EXISTS] PARTITION (…) and CREATE TABLE, not `{sql}`"
        ))
    };
    let lower = rest.to_ascii_lowercase();
    let after_table = lower.strip_prefix("alter table").ok_or_else(unsupported)?;
    let offset = rest.len() - after_table.len();
    let add_at = lower[offset..].find(" add ").ok_or_else(unsupported)? + offset;
    let (table_project, table) = table_name(&rest[offset..add_at]);
    let project = table_project.unwrap_or_else(|| project.to_string());
    let mut clause = rest[add_at + 5..].trim();
    let if_not_exists = clause.to_ascii_lowercase().starts_with("if not exists");
    if if_not_exists {
        clause = clause["if not exists".len()..].trim();
    }
    let info = state.catalog.table(&project, &table)?;
    let mut specs = Vec::new();
    while !clause.is_empty() {
        let body = clause
            .get(..9)
            .filter(|k| k.eq_ignore_ascii_case("partition"))
            .map(|_| clause[9..].trim_start())
            .and_then(|c| c.strip_prefix('('))
            .ok_or_else(unsupported)?;
        let close = body.find(')').ok_or_else(unsupported)?;
        specs.push(ResolvedPartitionSpec::resolve(
            &info.schema,
            Some(&body[..close]),
        )?);
        clause = body[close + 1..].trim();
    }
    if specs.is_empty() {
        return Err(unsupported());
    }
    for spec in specs {
        let created = state
            .catalog
            .create_partition(&info.project, &info.name, &spec)?;
        if !created && !if_not_exists {
            return Err(OdpsError::new(
                ErrorCode::ObjectAlreadyExists,
                format!(
                    "ODPS-0130111: partition {} already exists",
                    spec.to_quoted()
                ),
            ));
        }
    }
    Ok(())
}

fn run(state: &AppState, project: &str, sql: &str) -> Result<(), OdpsError> {
    let head = sql.trim_start().to_ascii_lowercase();
    if head.starts_with("create table") {
        state.catalog.create_table_ddl(project, sql)?;
        Ok(())
    } else {
        add_partitions(state, project, sql)
    }
}

/// `POST /projects/<p>/instances` with an `<Instance><Job>` document.
pub async fn create(
    State(state): State<AppState>,
    request_id: RequestId,
    Path(project): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, OdpsError> {
    existing_project(&state, &project)?;
    let text = String::from_utf8_lossy(&body);
    let sql = query_text(&text).ok_or_else(|| {
        OdpsError::new(
            ErrorCode::InvalidArgument,
            "the instance has no SQL task with a <Query>",
        )
    })?;
    run(&state, &project, &sql)?;
    let instance_id = format!(
        "{}{}",
        Utc::now().format("%Y%m%d%H%M%S"),
        &request_id.as_str()[..16]
    );
    state.record_instance(
        instance_id.clone(),
        InstanceRecord {
            project: project.clone(),
            sql,
            started: Utc::now(),
        },
    );
    let location = format!(
        "http://{}/api/projects/{project}/instances/{instance_id}",
        state.host
    );
    Ok((
        StatusCode::CREATED,
        [(LOCATION, location)],
        Xml(String::new()),
    ))
}

/// `GET /projects/<p>/instances/<id>[?taskstatus]`.
pub async fn status(
    State(state): State<AppState>,
    Path((project, instance_id)): Path<(String, String)>,
    query: Query,
) -> Result<impl IntoResponse, OdpsError> {
    let record = state
        .instance(&instance_id)
        .filter(|r| r.project.eq_ignore_ascii_case(&project))
        .ok_or_else(|| {
            OdpsError::new(
                ErrorCode::NoSuchObject,
                format!("instance {instance_id} does not exist"),
            )
        })?;
    let time = record
        .started
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let body = if query.has("taskstatus") {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Instance><Status>Terminated</Status><Tasks>\
             <Task Type=\"SQL\"><Name>SQLAddPartitionTask</Name><StartTime>{time}</StartTime>\
             <EndTime>{time}</EndTime><Status>Success</Status></Task></Tasks></Instance>"
        )
    } else {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Instance><Status>Terminated</Status>\
             <Comment>{}</Comment></Instance>",
            xml_escape(&record.sql)
        )
    };
    let headers = [
        ("x-odps-start-time", time.clone()),
        ("x-odps-end-time", time),
        ("x-odps-owner", "ALIYUN$mc-emulator".to_owned()),
    ];
    Ok((headers, Xml(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_the_query_from_cdata_or_text() {
        let body = "<Instance><Job><Tasks><SQL><Name>x</Name><Query><![CDATA[ALTER TABLE p.`t` ADD IF NOT EXISTS PARTITION (pt='a');]]></Query></SQL></Tasks></Job></Instance>";
        assert_eq!(
            query_text(body).unwrap(),
            "ALTER TABLE p.`t` ADD IF NOT EXISTS PARTITION (pt='a');"
        );
        assert_eq!(
            query_text("<Query>select 1 &lt; 2</Query>").unwrap(),
            "select 1 < 2"
        );
        assert_eq!(table_name("p.`t`"), (Some("p".into()), "t".into()));
    }
}
