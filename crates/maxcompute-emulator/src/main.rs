//! `mc-emulator`: run the local MaxCompute service, create tables, print their rows.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use maxcompute_emulator::config::{DEFAULT_ACCESS_ID, DEFAULT_ACCESS_KEY, DEFAULT_PROJECT};
use maxcompute_emulator::quota::QuotaConfig;
use maxcompute_emulator::show::{self, PartitionRows, ShowFormat};
use maxcompute_emulator::sts::StsConfig;
use maxcompute_emulator::{start, Account, Catalog, EmulatorConfig, ResolvedPartitionSpec};

/// A local, strict MaxCompute service (REST API, Tunnel, STS) for tests and local runs.
///
/// One port serves the REST API under /api, the Tunnel at the root, STS AssumeRole under /sts/
/// and fault injection under /__admin/faults. Data lives under --data-dir and survives restarts.
#[derive(Parser)]
#[command(name = "mc-emulator", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server until interrupted (Ctrl-C); prints its endpoints on start.
    Serve(ServeArgs),
    /// Create tables from MaxCompute DDL (CREATE TABLE ...; several statements allowed).
    CreateTable(CreateTableArgs),
    /// Print a table's committed rows, like `select * from t` in odpscmd, or as JSON lines.
    Show(ShowArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on. Keep the default unless you know why: the service has no TLS.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 8089)]
    port: u16,
    /// Directory holding tables and committed data (created if missing).
    #[arg(long, default_value = "mc-emulator-data")]
    data_dir: PathBuf,
    /// AccessKeyId accepted for signed requests (local use only).
    #[arg(long, default_value = DEFAULT_ACCESS_ID)]
    access_id: String,
    /// AccessKey secret of --access-id (local use only).
    #[arg(long, default_value = DEFAULT_ACCESS_KEY)]
    access_key: String,
    /// Project to create at start; repeat for several. Existing projects are always loaded.
    #[arg(long = "project", default_value = DEFAULT_PROJECT)]
    projects: Vec<String>,
    /// Largest string/binary value accepted in a record, in bytes (MaxFieldSize).
    #[arg(long, default_value_t = maxcompute_emulator::config::DEFAULT_MAX_FIELD_SIZE)]
    max_field_size: usize,
    /// Lifetime of tunnel sessions, in seconds.
    #[arg(long, default_value_t = 24 * 3600)]
    session_ttl_secs: u64,
    /// Largest accepted difference between a request's Date header and the clock, in seconds.
    #[arg(long, default_value_t = 15 * 60)]
    max_clock_skew_secs: u64,
    /// RAM role ARN that STS AssumeRole accepts; repeat for several.
    #[arg(long = "sts-role-arn")]
    sts_role_arns: Vec<String>,
    /// Issue every STS credential with this lifetime in seconds, whatever DurationSeconds asks
    /// (to test credential refresh).
    #[arg(long)]
    sts_lifetime_secs: Option<u64>,
    /// Turn the upload-session quota on: at most this many batch sessions per table per window
    /// (MaxCompute: 500), answered with 429 FlowExceeded. Off by default.
    #[arg(long)]
    quota_sessions: Option<u32>,
    /// Window of --quota-sessions, in seconds.
    #[arg(long, default_value_t = 300)]
    quota_window_secs: u64,
    /// Log filter (tracing env-filter syntax), e.g. `info` or `maxcompute_emulator=debug`.
    #[arg(long, default_value = "info")]
    log: String,
}

#[derive(clap::Args)]
struct CreateTableArgs {
    /// Data directory of the emulator (the server may be stopped or running).
    #[arg(long, default_value = "mc-emulator-data")]
    data_dir: PathBuf,
    /// Project the tables belong to (created if missing).
    #[arg(long, default_value = DEFAULT_PROJECT)]
    project: String,
    /// Read the DDL from this file (`-` for stdin) instead of the argument.
    #[arg(long, conflicts_with = "ddl")]
    file: Option<PathBuf>,
    /// The DDL (it may start with a `--` comment), e.g. "CREATE TABLE IF NOT EXISTS t(topic STRING, `offset` BIGINT) PARTITIONED BY (pt STRING);"
    #[arg(allow_hyphen_values = true)]
    ddl: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// ASCII grid like odpscmd.
    Table,
    /// One JSON object per row.
    Jsonl,
}

#[derive(clap::Args)]
struct ShowArgs {
    /// Data directory of the emulator.
    #[arg(long, default_value = "mc-emulator-data")]
    data_dir: PathBuf,
    /// Project of the table.
    #[arg(long, default_value = DEFAULT_PROJECT)]
    project: String,
    /// Table to print.
    #[arg(long)]
    table: String,
    /// Only this partition, e.g. `pt=2024-01-01` or `pt=a,hh=07`.
    #[arg(long)]
    partition: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::CreateTable(args) => create_table(args),
        Command::Show(args) => show_rows(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mc-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

fn serve(args: ServeArgs) -> CliResult {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&args.log)?)
        .init();
    let mut config = EmulatorConfig::new(&args.data_dir);
    config.bind = SocketAddr::new(args.host, args.port);
    config.accounts = vec![Account::new(args.access_id.clone(), args.access_key)];
    config.projects = args.projects.clone();
    config.max_field_size = args.max_field_size;
    config.session_ttl = Duration::from_secs(args.session_ttl_secs);
    config.max_clock_skew = Duration::from_secs(args.max_clock_skew_secs);
    config.sts = StsConfig {
        role_arns: args.sts_role_arns,
        lifetime_override: args.sts_lifetime_secs.map(Duration::from_secs),
        ..StsConfig::default()
    };
    config.quota = args.quota_sessions.map(|n| QuotaConfig {
        sessions_per_window: n,
        window: Duration::from_secs(args.quota_window_secs),
    });
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let handle = start(config).await?;
        println!("mc-emulator is running");
        println!("  API endpoint:    {}", handle.api_endpoint());
        println!("  Tunnel endpoint: {}", handle.tunnel_endpoint());
        println!("  STS endpoint:    {}", handle.sts_endpoint());
        println!("  Fault admin:     http://{}/__admin/faults", handle.addr());
        println!("  AccessKeyId:     {}", args.access_id);
        println!("  Projects:        {}", args.projects.join(", "));
        println!("  Data directory:  {}", args.data_dir.display());
        tokio::signal::ctrl_c().await?;
        println!("shutting down");
        handle.shutdown().await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

fn create_table(args: CreateTableArgs) -> CliResult {
    let ddl = match (&args.file, &args.ddl) {
        (Some(path), _) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            text
        }
        (Some(path), _) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        (None, Some(ddl)) => ddl.clone(),
        (None, None) => return Err("give the DDL as an argument or with --file".into()),
    };
    let catalog = Catalog::open(&args.data_dir, std::slice::from_ref(&args.project))?;
    let defs = maxcompute_emulator::ddl::parse_statements(&ddl)?;
    if defs.is_empty() {
        return Err("the DDL contains no CREATE TABLE statement".into());
    }
    for def in defs {
        let info = catalog.create_table(&args.project, def)?;
        println!("table {}.{} ready", info.project, info.name);
    }
    Ok(())
}

fn show_rows(args: ShowArgs) -> CliResult {
    let catalog = Catalog::open(&args.data_dir, &[])?;
    let info = catalog.table(&args.project, &args.table)?;
    let specs: Vec<ResolvedPartitionSpec> = match &args.partition {
        Some(raw) => {
            let spec = ResolvedPartitionSpec::resolve(&info.schema, Some(raw))?;
            if catalog
                .partition(&info.project, &info.name, &spec)?
                .is_none()
            {
                return Err(format!("partition {spec} does not exist").into());
            }
            vec![spec]
        }
        None => catalog
            .partitions(&info.project, &info.name)?
            .into_iter()
            .map(|p| p.spec)
            .collect(),
    };
    let mut data = Vec::new();
    for spec in &specs {
        data.push(catalog.rows(&info.project, &info.name, spec)?);
    }
    let parts: Vec<PartitionRows<'_>> = specs
        .iter()
        .zip(&data)
        .map(|(spec, rows)| PartitionRows { spec, rows })
        .collect();
    let format = match args.format {
        Format::Table => ShowFormat::Table,
        Format::Jsonl => ShowFormat::JsonLines,
    };
    print!("{}", show::render(&info.schema, &parts, format));
    Ok(())
}
