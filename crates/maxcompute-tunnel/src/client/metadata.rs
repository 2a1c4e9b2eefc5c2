//! Table metadata over the REST API: the schema of a table.

use http::Method;
use serde::Deserialize;
use tokio::time::Instant;

use super::{RequestSpec, Service, TunnelClient};
use crate::error::Error;
use crate::schema::TableSchema;

impl TunnelClient {
    /// Reads a table's schema from the REST API (`GET <api>/projects/<p>/tables/<t>`, an XML
    /// envelope whose `<Schema>` holds JSON).
    pub async fn table_schema(
        &self,
        table: &str,
        deadline: Option<Instant>,
    ) -> Result<TableSchema, Error> {
        let spec = RequestSpec::new(
            Method::GET,
            Service::Api,
            self.table_resource(table),
            format!("read schema of table {table}"),
        );
        self.send_and_read(spec, deadline, parse_table_xml).await
    }
}

#[derive(Deserialize)]
struct TableXml {
    #[serde(rename = "Schema", default)]
    schema: Option<String>,
}

/// Parses the REST table document (`<Table>…<Schema><![CDATA[{json}]]></Schema></Table>`).
fn parse_table_xml(operation: &str, body: &[u8]) -> Result<TableSchema, Error> {
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::protocol(operation, "table document is not UTF-8"))?;
    let table: TableXml = quick_xml::de::from_str(text)
        .map_err(|e| Error::protocol(operation, format!("table document is not XML: {e}")))?;
    let json = table
        .schema
        .ok_or_else(|| Error::protocol(operation, "table document has no <Schema>"))?;
    let value: serde_json::Value = serde_json::from_str(json.trim())
        .map_err(|e| Error::protocol(operation, format!("<Schema> is not JSON: {e}")))?;
    TableSchema::from_json(&value).map_err(|source| Error::Schema {
        operation: operation.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_table_metadata_xml() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Table>
  <Name>events</Name>
  <TableId>abc</TableId>
  <Project>proj</Project>
  <Type>MANAGED_TABLE</Type>
  <Owner>ALIYUN$x</Owner>
  <Comment/>
  <CreationTime>Mon, 01 Jan 2024 00:00:00 GMT</CreationTime>
  <Schema><![CDATA[{"columns":[{"name":"k","type":"string","comment":"","isNullable":true,"label":""},{"name":"m","type":"map<string,bigint>"}],"partitionKeys":[{"name":"pt","type":"string"}],"lifecycle":-1,"Reserved":"{\"Transactional\":\"false\"}"}]]></Schema>
</Table>"#;
        let schema = parse_table_xml("read schema", xml.as_bytes()).unwrap();
        assert_eq!(schema.columns.len(), 2);
        assert_eq!(
            schema.columns[1].type_info.to_string(),
            "map<string,bigint>"
        );
        assert_eq!(schema.partition_keys[0].name, "pt");

        let err = parse_table_xml("read schema", b"<Table><Name>t</Name></Table>").unwrap_err();
        assert!(err.to_string().contains("no <Schema>"), "{err}");
        let err = parse_table_xml("read schema", b"<Table><Schema>not json</Schema></Table>")
            .unwrap_err();
        assert!(err.to_string().contains("not JSON"), "{err}");
    }
}
