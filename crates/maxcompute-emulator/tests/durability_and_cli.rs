//! Committed data survives a restart on the same data directory, and the `mc-emulator` binary
//! creates tables and prints rows.

mod strict_support;

use std::process::Command;

use maxcompute_emulator::{start, EmulatorConfig};
use maxcompute_tunnel::Value;
use strict_support::*;

#[tokio::test]
async fn committed_data_and_partitions_survive_a_restart() {
    let env = env().await;
    let schema = events_schema(&env);
    let upload = env.create_upload("p1", true).await;
    let rows = vec![row("a", 1, Some("[1,2]")), row("a", 2, None)];
    assert_eq!(
        env.put_block(&upload, "p1", "0", encode(schema.clone(), &rows))
            .await
            .status,
        200
    );
    assert_eq!(env.commit(&upload, "p1").await.status, 200);
    // An empty partition is kept too.
    env.create_upload("empty", true).await;
    // Overwrite replaces the data of p2 but not of p1.
    for (i, overwrite) in [(10, false), (20, true)] {
        let mut query = vec![
            ("uploads", "1"),
            ("partition", "pt=p2"),
            ("create_partition", "true"),
        ];
        if overwrite {
            query.push(("overwrite", "true"));
        }
        let id = env
            .post("/projects/emulator/tables/events", &query)
            .await
            .json()["UploadID"]
            .as_str()
            .unwrap()
            .to_string();
        let block = encode(schema.clone(), &[row("b", i, None)]);
        assert_eq!(env.put_block(&id, "p2", "0", block).await.status, 200);
        assert_eq!(env.commit(&id, "p2").await.status, 200);
    }
    env.handle.shutdown().await;

    let again = start(EmulatorConfig::new(env.dir.path())).await.unwrap();
    let catalog = again.catalog();
    let spec = |pt: &str| {
        catalog
            .resolve_partition(PROJECT, "events", Some(pt))
            .unwrap()
    };
    assert_eq!(
        catalog.rows(PROJECT, "events", &spec("pt=p1")).unwrap(),
        rows
    );
    assert_eq!(
        catalog.rows(PROJECT, "events", &spec("pt=p2")).unwrap(),
        vec![row("b", 20, None)]
    );
    let parts: Vec<String> = catalog
        .partitions(PROJECT, "events")
        .unwrap()
        .iter()
        .map(|p| p.spec.to_string())
        .collect();
    assert_eq!(parts, ["pt=empty", "pt=p1", "pt=p2"]);
    let p1 = catalog
        .partition(PROJECT, "events", &spec("pt=p1"))
        .unwrap()
        .unwrap();
    assert_eq!(p1.record_count, 2);
    again.shutdown().await;
}

fn mc(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mc-emulator"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn create_table_and_show_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let ddl = "-- seed example\nCREATE TABLE IF NOT EXISTS t(topic STRING, `partition` BIGINT, \
               `offset` BIGINT, key STRING, value STRING) PARTITIONED BY (pt STRING);";
    let (ok, stdout, stderr) = mc(&["create-table", "--data-dir", data, "--project", "p", ddl]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("table p.t ready"), "{stdout}");
    let (ok, _, stderr) = mc(&[
        "create-table",
        "--data-dir",
        data,
        "--project",
        "p",
        "CREATE TABLE bad (x nonsense)",
    ]);
    assert!(!ok);
    assert!(stderr.contains("unknown type"), "{stderr}");

    // Write rows through the server, then print them with the binary.
    let mut config = EmulatorConfig::new(dir.path());
    config.projects = vec!["p".into()];
    let handle = start(config).await.unwrap();
    let info = handle.catalog().table("p", "t").unwrap();
    let spec = handle
        .catalog()
        .resolve_partition("p", "t", Some("pt=x"))
        .unwrap();
    handle.catalog().create_partition("p", "t", &spec).unwrap();
    let rows = vec![
        vec![
            "orders".into(),
            Value::Int(0),
            Value::Int(42),
            Value::Null,
            "hello".into(),
        ],
        vec![
            "orders".into(),
            Value::Int(3),
            Value::Int(43),
            "k".into(),
            "".into(),
        ],
    ];
    let stream = encode(info.schema.clone(), &rows);
    handle
        .catalog()
        .commit("p", "t", &spec, vec![stream], 2, false)
        .unwrap();
    handle.shutdown().await;

    let (ok, stdout, stderr) = mc(&[
        "show",
        "--data-dir",
        data,
        "--project",
        "p",
        "--table",
        "t",
        "--partition",
        "pt=x",
    ]);
    assert!(ok, "{stderr}");
    let expected = "\
+--------+-----------+--------+------+-------+----+
| topic  | partition | offset | key  | value | pt |
+--------+-----------+--------+------+-------+----+
| orders | 0         | 42     | NULL | hello | x  |
| orders | 3         | 43     | k    |       | x  |
+--------+-----------+--------+------+-------+----+
";
    assert_eq!(stdout, expected);

    let (ok, stdout, _) = mc(&[
        "show",
        "--data-dir",
        data,
        "--project",
        "p",
        "--table",
        "t",
        "--format",
        "jsonl",
    ]);
    assert!(ok);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        serde_json::json!({"topic":"orders","partition":0,"offset":42,"key":null,"value":"hello","pt":"x"})
    );

    let (ok, _, stderr) = mc(&[
        "show",
        "--data-dir",
        data,
        "--project",
        "p",
        "--table",
        "t",
        "--partition",
        "pt=nope",
    ]);
    assert!(!ok);
    assert!(stderr.contains("does not exist"), "{stderr}");
}

#[test]
fn help_documents_every_subcommand_and_flag() {
    let (ok, top, _) = mc(&["--help"]);
    assert!(ok);
    for sub in ["serve", "create-table", "show"] {
        assert!(top.contains(sub), "{top}");
    }
    let (_, serve, _) = mc(&["serve", "--help"]);
    for flag in [
        "--host",
        "--port",
        "--data-dir",
        "--access-id",
        "--access-key",
        "--project",
        "--sts-role-arn",
        "--quota-sessions",
    ] {
        assert!(serve.contains(flag), "serve --help lacks {flag}");
    }
    let (_, show, _) = mc(&["show", "--help"]);
    for flag in ["--table", "--partition", "--format"] {
        assert!(show.contains(flag), "show --help lacks {flag}");
    }
}
