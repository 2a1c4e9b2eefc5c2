//! Projects, tables and partitions, and their committed data, kept durably under the data
//! directory:
//!
//! ```text
//! <data_dir>/projects/<project>/tables/<table>/table.json
//! <data_dir>/projects/<project>/tables/<table>/partitions/<spec>/partition.json
//! <data_dir>/projects/<project>/tables/<table>/partitions/<spec>/data/<seq>.pack
//! ```
//!
//! Names are case-insensitive (stored lower-cased and percent-encoded); a non-partitioned table has
//! the single partition `_`. One mutex serialises all changes, which keeps commits ordered and is
//! plenty for a test service.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use maxcompute_tunnel::{TableSchema, Value};
use serde::{Deserialize, Serialize};

use crate::ddl::{self, DdlError, TableDef};
use crate::error::{ErrorCode, OdpsError};
use crate::partition::ResolvedPartitionSpec;
use crate::records;
use crate::storage::{self, Pack, StorageError};

/// A catalog operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Ddl(#[from] DdlError),
    #[error("project `{0}` does not exist")]
    NoSuchProject(String),
    #[error("table `{project}.{table}` does not exist")]
    NoSuchTable { project: String, table: String },
    #[error("partition `{spec}` of `{project}.{table}` does not exist")]
    NoSuchPartition {
        project: String,
        table: String,
        spec: String,
    },
    #[error("table `{project}.{table}` already exists")]
    TableExists { project: String, table: String },
    #[error("the DDL names project `{ddl}` but the command targets project `{target}`")]
    ProjectMismatch { ddl: String, target: String },
    #[error("invalid name `{0}`")]
    InvalidName(String),
    #[error("stored data of `{project}.{table}` cannot be decoded: {reason}")]
    CorruptData {
        project: String,
        table: String,
        reason: String,
    },
}

impl From<CatalogError> for OdpsError {
    fn from(e: CatalogError) -> Self {
        match &e {
            CatalogError::NoSuchProject(p) => {
                OdpsError::not_found(ErrorCode::NoSuchProject, "project", p)
            }
            CatalogError::NoSuchTable { project, table } => OdpsError::not_found(
                ErrorCode::NoSuchTable,
                "table",
                format!("{project}.{table}"),
            ),
            CatalogError::NoSuchPartition { spec, .. } => {
                OdpsError::not_found(ErrorCode::NoSuchPartition, "partition", spec)
            }
            CatalogError::TableExists { .. } => {
                OdpsError::new(ErrorCode::ObjectAlreadyExists, e.to_string())
            }
            CatalogError::Ddl(_)
            | CatalogError::ProjectMismatch { .. }
            | CatalogError::InvalidName(_) => {
                OdpsError::new(ErrorCode::InvalidArgument, e.to_string())
            }
            CatalogError::Storage(_) | CatalogError::CorruptData { .. } => {
                tracing::error!(error = %e, "storage failure");
                OdpsError::new(ErrorCode::InternalServerError, e.to_string())
            }
        }
    }
}

/// A table's definition, as stored in `table.json`.
#[derive(Debug, Clone)]
pub struct TableInfo {
    pub project: String,
    pub name: String,
    pub schema: Arc<TableSchema>,
    pub comment: String,
    pub lifecycle: Option<u32>,
    pub created: DateTime<Utc>,
}

/// A partition's metadata.
#[derive(Debug, Clone)]
pub struct PartitionInfo {
    pub spec: ResolvedPartitionSpec,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub record_count: u64,
    pub size: u64,
}

#[derive(Serialize, Deserialize)]
struct TableFile {
    name: String,
    comment: String,
    lifecycle: Option<u32>,
    created: i64,
    schema: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
struct PartitionFile {
    spec: Vec<(String, String)>,
    created: i64,
}

struct PartitionState {
    spec: ResolvedPartitionSpec,
    dir: PathBuf,
    created: DateTime<Utc>,
    last_modified: DateTime<Utc>,
    next_seq: u64,
    record_count: u64,
    size: u64,
}

struct TableState {
    info: TableInfo,
    dir: PathBuf,
    partitions: BTreeMap<ResolvedPartitionSpec, PartitionState>,
}

#[derive(Default)]
struct ProjectState {
    name: String,
    tables: BTreeMap<String, TableState>,
}

/// The emulator's tables and their data. Cheap to clone.
#[derive(Clone)]
pub struct Catalog {
    root: Arc<PathBuf>,
    state: Arc<Mutex<BTreeMap<String, ProjectState>>>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("root", &self.root).finish()
    }
}

fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn epoch(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn from_epoch(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

fn check_name(name: &str) -> Result<(), CatalogError> {
    if name.is_empty() || name.len() > 128 || name.chars().any(|c| c.is_control()) {
        return Err(CatalogError::InvalidName(name.to_string()));
    }
    Ok(())
}

impl Catalog {
    /// Opens (or creates) the catalog under `data_dir`, loading every stored project, table and
    /// partition, and creates the listed projects if they are new.
    pub fn open(data_dir: &Path, projects: &[String]) -> Result<Catalog, CatalogError> {
        let root = data_dir.join("projects");
        storage::create_dir_all(&root)?;
        let catalog = Catalog {
            root: Arc::new(root),
            state: Arc::new(Mutex::new(BTreeMap::new())),
        };
        catalog.load()?;
        for p in projects {
            catalog.create_project(p)?;
        }
        Ok(catalog)
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, ProjectState>> {
        // A panic while holding the lock cannot leave files half-written (writes are atomic), so
        // the state is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn load(&self) -> Result<(), CatalogError> {
        let mut state = self.lock();
        for project_dir in storage::list_dirs(&self.root)? {
            let name = storage::decode_component(&file_name(&project_dir));
            let mut project = ProjectState {
                name: name.clone(),
                tables: BTreeMap::new(),
            };
            for table_dir in storage::list_dirs(&project_dir.join("tables"))? {
                let table = load_table(&name, &table_dir)?;
                project.tables.insert(key(&table.info.name), table);
            }
            state.insert(key(&name), project);
        }
        Ok(())
    }

    /// Creates a project (no-op if it exists).
    pub fn create_project(&self, name: &str) -> Result<(), CatalogError> {
        check_name(name)?;
        let mut state = self.lock();
        if state.contains_key(&key(name)) {
            return Ok(());
        }
        storage::create_dir_all(&self.project_dir(name).join("tables"))?;
        state.insert(
            key(name),
            ProjectState {
                name: name.to_string(),
                tables: BTreeMap::new(),
            },
        );
        Ok(())
    }

    pub fn project_exists(&self, name: &str) -> bool {
        self.lock().contains_key(&key(name))
    }

    fn project_dir(&self, name: &str) -> PathBuf {
        self.root.join(storage::encode_component(&key(name)))
    }

    /// Creates a table from one `CREATE TABLE` statement in `project`. With `IF NOT EXISTS` an
    /// existing table is returned unchanged.
    pub fn create_table_ddl(&self, project: &str, sql: &str) -> Result<TableInfo, CatalogError> {
        let def = ddl::parse_create_table(sql)?;
        self.create_table(project, def)
    }

    /// Creates a table from a parsed definition (see [`create_table_ddl`](Self::create_table_ddl)).
    pub fn create_table(&self, project: &str, def: TableDef) -> Result<TableInfo, CatalogError> {
        if let Some(ddl_project) = &def.project {
            if !ddl_project.eq_ignore_ascii_case(project) {
                return Err(CatalogError::ProjectMismatch {
                    ddl: ddl_project.clone(),
                    target: project.to_string(),
                });
            }
        }
        check_name(&def.name)?;
        let project_dir = self.project_dir(project);
        let mut state = self.lock();
        let p = state
            .get_mut(&key(project))
            .ok_or_else(|| CatalogError::NoSuchProject(project.to_string()))?;
        if let Some(existing) = p.tables.get(&key(&def.name)) {
            if def.if_not_exists {
                return Ok(existing.info.clone());
            }
            return Err(CatalogError::TableExists {
                project: project.to_string(),
                table: def.name,
            });
        }
        let created = Utc::now();
        let dir = project_dir
            .join("tables")
            .join(storage::encode_component(&key(&def.name)));
        let file = TableFile {
            name: def.name.clone(),
            comment: def.comment.clone(),
            lifecycle: def.lifecycle,
            created: epoch(created),
            schema: def.schema.to_json(),
        };
        let json = serde_json::to_vec_pretty(&file).map_err(|e| CatalogError::CorruptData {
            project: project.to_string(),
            table: def.name.clone(),
            reason: e.to_string(),
        })?;
        let mut table = TableState {
            info: TableInfo {
                project: p.name.clone(),
                name: def.name.clone(),
                schema: Arc::new(def.schema),
                comment: def.comment,
                lifecycle: def.lifecycle,
                created,
            },
            dir: dir.clone(),
            partitions: BTreeMap::new(),
        };
        // A non-partitioned table has exactly one, implicit, partition.
        if table.info.schema.partition_keys.is_empty() {
            add_partition(&mut table, ResolvedPartitionSpec::none(), created)?;
        }
        // table.json last: a table directory without it is ignored on load.
        storage::write_atomic(&dir.join("table.json"), &json)?;
        let info = table.info.clone();
        p.tables.insert(key(&info.name), table);
        tracing::info!(project, table = %info.name, "table created");
        Ok(info)
    }

    /// The table `project.name`, or `NoSuchProject`/`NoSuchTable`.
    pub fn table(&self, project: &str, name: &str) -> Result<TableInfo, CatalogError> {
        let state = self.lock();
        let p = state
            .get(&key(project))
            .ok_or_else(|| CatalogError::NoSuchProject(project.to_string()))?;
        p.tables
            .get(&key(name))
            .map(|t| t.info.clone())
            .ok_or_else(|| CatalogError::NoSuchTable {
                project: project.to_string(),
                table: name.to_string(),
            })
    }

    /// The names of a project's tables.
    pub fn tables(&self, project: &str) -> Result<Vec<String>, CatalogError> {
        let state = self.lock();
        let p = state
            .get(&key(project))
            .ok_or_else(|| CatalogError::NoSuchProject(project.to_string()))?;
        Ok(p.tables.values().map(|t| t.info.name.clone()).collect())
    }

    fn with_table<R>(
        &self,
        project: &str,
        name: &str,
        f: impl FnOnce(&mut TableState) -> Result<R, CatalogError>,
    ) -> Result<R, CatalogError> {
        let mut state = self.lock();
        let p = state
            .get_mut(&key(project))
            .ok_or_else(|| CatalogError::NoSuchProject(project.to_string()))?;
        let t = p
            .tables
            .get_mut(&key(name))
            .ok_or_else(|| CatalogError::NoSuchTable {
                project: project.to_string(),
                table: name.to_string(),
            })?;
        f(t)
    }

    /// The partition's metadata, `None` if it does not exist.
    pub fn partition(
        &self,
        project: &str,
        table: &str,
        spec: &ResolvedPartitionSpec,
    ) -> Result<Option<PartitionInfo>, CatalogError> {
        self.with_table(project, table, |t| Ok(t.partitions.get(spec).map(info_of)))
    }

    /// Every partition of the table, in spec order.
    pub fn partitions(
        &self,
        project: &str,
        table: &str,
    ) -> Result<Vec<PartitionInfo>, CatalogError> {
        self.with_table(project, table, |t| {
            Ok(t.partitions.values().map(info_of).collect())
        })
    }

    /// Creates the partition; returns false when it already existed.
    pub fn create_partition(
        &self,
        project: &str,
        table: &str,
        spec: &ResolvedPartitionSpec,
    ) -> Result<bool, CatalogError> {
        self.with_table(project, table, |t| {
            if t.partitions.contains_key(spec) {
                return Ok(false);
            }
            add_partition(t, spec.clone(), Utc::now())?;
            tracing::info!(project, table, partition = %spec, "partition created");
            Ok(true)
        })
    }

    /// Publishes record streams to an existing partition as one atomic pack. With `overwrite`,
    /// the pack replaces all earlier data of the partition.
    pub fn commit(
        &self,
        project: &str,
        table: &str,
        spec: &ResolvedPartitionSpec,
        streams: Vec<Vec<u8>>,
        record_count: u64,
        overwrite: bool,
    ) -> Result<(), CatalogError> {
        self.with_table(project, table, |t| {
            let part = t
                .partitions
                .get_mut(spec)
                .ok_or_else(|| CatalogError::NoSuchPartition {
                    project: project.to_string(),
                    table: table.to_string(),
                    spec: spec.to_string(),
                })?;
            let pack = Pack { overwrite, streams };
            let bytes = pack.to_bytes();
            let data_dir = part.dir.join("data");
            let seq = part.next_seq;
            storage::write_atomic(&data_dir.join(format!("{seq:020}.pack")), &bytes)?;
            part.next_seq += 1;
            part.last_modified = Utc::now();
            if overwrite {
                part.record_count = record_count;
                part.size = bytes.len() as u64;
                // The new pack already hides the older ones; removing them only saves space.
                for old in storage::list_files(&data_dir)? {
                    if pack_seq(&old).is_some_and(|s| s < seq) {
                        if let Err(e) = storage::remove_file(&old) {
                            tracing::warn!(error = %e, "could not remove an overwritten pack");
                        }
                    }
                }
            } else {
                part.record_count += record_count;
                part.size += bytes.len() as u64;
            }
            Ok(())
        })
    }

    /// The committed record streams of a partition, oldest first.
    pub fn streams(
        &self,
        project: &str,
        table: &str,
        spec: &ResolvedPartitionSpec,
    ) -> Result<Vec<Vec<u8>>, CatalogError> {
        let dir = self.with_table(project, table, |t| {
            t.partitions
                .get(spec)
                .map(|p| p.dir.join("data"))
                .ok_or_else(|| CatalogError::NoSuchPartition {
                    project: project.to_string(),
                    table: table.to_string(),
                    spec: spec.to_string(),
                })
        })?;
        Ok(live_packs(&dir)?
            .into_iter()
            .flat_map(|p| p.streams)
            .collect())
    }

    /// The committed rows of a partition (data columns only), in commit order.
    pub fn rows(
        &self,
        project: &str,
        table: &str,
        spec: &ResolvedPartitionSpec,
    ) -> Result<Vec<Vec<Value>>, CatalogError> {
        let info = self.table(project, table)?;
        let mut rows = Vec::new();
        for stream in self.streams(project, table, spec)? {
            rows.extend(records::decode_stored(&info.schema, &stream).map_err(|e| {
                CatalogError::CorruptData {
                    project: project.to_string(),
                    table: table.to_string(),
                    reason: e.to_string(),
                }
            })?);
        }
        Ok(rows)
    }

    /// Resolves a textual partition spec (`pt=x,dt=y`, quotes allowed) against the table.
    pub fn resolve_partition(
        &self,
        project: &str,
        table: &str,
        raw: Option<&str>,
    ) -> Result<ResolvedPartitionSpec, OdpsError> {
        let info = self.table(project, table)?;
        ResolvedPartitionSpec::resolve(&info.schema, raw)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn pack_seq(path: &Path) -> Option<u64> {
    file_name(path).strip_suffix(".pack")?.parse().ok()
}

fn info_of(p: &PartitionState) -> PartitionInfo {
    PartitionInfo {
        spec: p.spec.clone(),
        created: p.created,
        last_modified: p.last_modified,
        record_count: p.record_count,
        size: p.size,
    }
}

fn partition_dir_name(spec: &ResolvedPartitionSpec) -> String {
    if spec.is_empty() {
        return "_".into();
    }
    spec.pairs()
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                storage::encode_component(&key(k)),
                storage::encode_component(v)
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn add_partition(
    table: &mut TableState,
    spec: ResolvedPartitionSpec,
    created: DateTime<Utc>,
) -> Result<(), CatalogError> {
    let dir = table.dir.join("partitions").join(partition_dir_name(&spec));
    let file = PartitionFile {
        spec: spec.pairs().to_vec(),
        created: epoch(created),
    };
    let json = serde_json::to_vec(&file).map_err(|e| CatalogError::CorruptData {
        project: table.info.project.clone(),
        table: table.info.name.clone(),
        reason: e.to_string(),
    })?;
    storage::create_dir_all(&dir.join("data"))?;
    storage::write_atomic(&dir.join("partition.json"), &json)?;
    table.partitions.insert(
        spec.clone(),
        PartitionState {
            spec,
            dir,
            created,
            last_modified: created,
            next_seq: 0,
            record_count: 0,
            size: 0,
        },
    );
    Ok(())
}

/// The packs that are visible: from the last overwrite on.
fn live_packs(data_dir: &Path) -> Result<Vec<Pack>, CatalogError> {
    let mut packs = Vec::new();
    let mut files: Vec<(u64, PathBuf)> = storage::list_files(data_dir)?
        .into_iter()
        .filter_map(|p| pack_seq(&p).map(|s| (s, p)))
        .collect();
    files.sort();
    for (_, path) in files {
        let bytes = storage::read(&path)?;
        let pack = Pack::from_bytes(&path, &bytes)?;
        if pack.overwrite {
            packs.clear();
        }
        packs.push(pack);
    }
    Ok(packs)
}

fn load_table(project: &str, dir: &Path) -> Result<TableState, CatalogError> {
    let path = dir.join("table.json");
    let corrupt = |reason: String| CatalogError::CorruptData {
        project: project.to_string(),
        table: file_name(dir),
        reason,
    };
    let bytes = storage::read(&path)?;
    let file: TableFile =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("{}: {e}", path.display())))?;
    let schema = TableSchema::from_json(&file.schema)
        .map_err(|e| corrupt(format!("{}: {e}", path.display())))?;
    let mut table = TableState {
        info: TableInfo {
            project: project.to_string(),
            name: file.name,
            schema: Arc::new(schema),
            comment: file.comment,
            lifecycle: file.lifecycle,
            created: from_epoch(file.created),
        },
        dir: dir.to_path_buf(),
        partitions: BTreeMap::new(),
    };
    for part_dir in storage::list_dirs(&dir.join("partitions"))? {
        let path = part_dir.join("partition.json");
        let Ok(bytes) = storage::read(&path) else {
            // Interrupted before partition.json was written: the partition was never created.
            continue;
        };
        let file: PartitionFile = serde_json::from_slice(&bytes)
            .map_err(|e| corrupt(format!("{}: {e}", path.display())))?;
        let spec = ResolvedPartitionSpec::from_pairs(file.spec);
        let data_dir = part_dir.join("data");
        let mut next_seq = 0;
        let mut last_modified = from_epoch(file.created);
        for f in storage::list_files(&data_dir)? {
            if let Some(seq) = pack_seq(&f) {
                next_seq = next_seq.max(seq + 1);
                if let Ok(modified) = std::fs::metadata(&f).and_then(|m| m.modified()) {
                    last_modified = last_modified.max(DateTime::<Utc>::from(modified));
                }
            }
        }
        let mut record_count = 0;
        let mut size = 0;
        for pack in live_packs(&data_dir)? {
            size += pack.to_bytes().len() as u64;
            for stream in &pack.streams {
                record_count += records::decode_stored(&table.info.schema, stream)
                    .map_err(|e| corrupt(e.to_string()))?
                    .len() as u64;
            }
        }
        table.partitions.insert(
            spec.clone(),
            PartitionState {
                spec,
                dir: part_dir,
                created: from_epoch(file.created),
                last_modified,
                next_seq,
                record_count,
                size,
            },
        );
    }
    Ok(table)
}
