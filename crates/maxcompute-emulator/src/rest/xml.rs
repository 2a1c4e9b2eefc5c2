//! The XML documents of the REST API: a project, a table with its schema JSON (what pyodps
//! `Table.reload` and go `Table.Load` parse), one partition, a partition listing.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::catalog::{PartitionInfo, TableInfo};
use crate::error::xml_escape;
use maxcompute_tunnel::Column;

const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// Wraps text in CDATA, splitting any `]]>` so the section cannot end early.
pub fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

fn rfc1123(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn column_json(c: &Column) -> serde_json::Value {
    json!({
        "name": c.name,
        "type": c.type_info.to_string(),
        "comment": c.comment,
        "isNullable": c.nullable,
        "label": "",
        "hasDefaultValue": false,
        "extendedLabels": [],
    })
}

/// `<Table>` with the schema JSON; `last_modified` is the newest partition change.
pub fn table(info: &TableInfo, last_modified: DateTime<Utc>, size: u64, records: u64) -> String {
    let schema = json!({
        "columns": info.schema.columns.iter().map(column_json).collect::<Vec<_>>(),
        "partitionKeys": info.schema.partition_keys.iter().map(column_json).collect::<Vec<_>>(),
        "comment": info.comment,
        "owner": "ALIYUN$mc-emulator",
        "createTime": info.created.timestamp(),
        "lastDDLTime": info.created.timestamp(),
        "lastModifiedTime": last_modified.timestamp(),
        "isVirtualView": false,
        "isExternal": false,
        "lifecycle": info.lifecycle.map_or(-1, i64::from),
        "size": size,
        "recordNum": records,
        "tableLabel": "",
        "Reserved": json!({"Transactional": "false"}).to_string(),
    });
    format!(
        "{DECLARATION}<Table><Name>{name}</Name><TableId>{id}</TableId><Project>{project}</Project>\
         <SchemaName>default</SchemaName><Type>MANAGED_TABLE</Type><Owner>ALIYUN$mc-emulator</Owner>\
         <Comment>{comment}</Comment><CreationTime>{created}</CreationTime>\
         <LastModifiedTime>{modified}</LastModifiedTime><Schema>{schema}</Schema></Table>",
        name = xml_escape(&info.name),
        id = xml_escape(&format!("{}.{}", info.project, info.name)),
        project = xml_escape(&info.project),
        comment = xml_escape(&info.comment),
        created = rfc1123(info.created),
        modified = rfc1123(last_modified),
        schema = cdata(&schema.to_string()),
    )
}

fn columns(p: &PartitionInfo) -> String {
    p.spec
        .pairs()
        .iter()
        .map(|(k, v)| {
            format!(
                "<Column Name=\"{}\" Value=\"{}\"/>",
                xml_escape(k),
                xml_escape(v)
            )
        })
        .collect()
}

/// `<Partition>` of one partition, with its metadata JSON.
pub fn partition(p: &PartitionInfo) -> String {
    let meta = json!({
        "createTime": p.created.timestamp(),
        "lastDDLTime": p.created.timestamp(),
        "lastModifiedTime": p.last_modified.timestamp(),
        "partitionSize": p.size,
        "partitionRecordNum": p.record_count,
    });
    format!(
        "{DECLARATION}<Partition>{}<Schema>{}</Schema></Partition>",
        columns(p),
        cdata(&meta.to_string())
    )
}

/// `<Partitions>` listing, in one page (empty marker).
pub fn partitions(parts: &[PartitionInfo]) -> String {
    let items: String = parts
        .iter()
        .map(|p| format!("<Partition>{}</Partition>", columns(p)))
        .collect();
    format!(
        "{DECLARATION}<Partitions>{items}<Marker></Marker><MaxItems>{}</MaxItems></Partitions>",
        parts.len().max(1)
    )
}

/// `<Project>` for `GET /projects/<p>`.
pub fn project(name: &str) -> String {
    format!(
        "{DECLARATION}<Project><Name>{n}</Name><Comment></Comment><Owner>ALIYUN$mc-emulator</Owner>\
         <State>AVAILABLE</State><ProjectGroupName></ProjectGroupName><Properties></Properties>\
         </Project>",
        n = xml_escape(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdata_cannot_be_closed_by_its_content() {
        let wrapped = cdata("a]]>b");
        assert_eq!(wrapped, "<![CDATA[a]]]]><![CDATA[>b]]>");
    }
}
