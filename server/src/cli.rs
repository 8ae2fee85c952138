//! The `tianjian` command line: runs the sync server, and administers it. It lives in the
//! library so that the end-to-end tests can run the very same command in a process of its
//! own (to kill it, say).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use client_core::{BranchId, Principal, Role, UserId};
use tokio::net::TcpListener;

use crate::admin::{self, AdminError, NewUser, Organisation};
use crate::auth::{self, AuthError};
use crate::configuration::{ConfigError, ConfigFile, Configuration};
use crate::store::{Database, Store, StoreError};
use crate::{AppState, Config, StartError, now, serve};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("no user {0}")]
    NoUser(UserId),
    #[error(transparent)]
    Demo(#[from] crate::demo::DemoError),
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
    #[error("the copy differs from the original: {0}")]
    Migrated(String),
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

#[derive(Debug, Parser)]
#[command(
    name = "tianjian",
    about = "Tianjian (田间): offline-first sync for village Party branches"
)]
pub struct Cli {
    /// The configuration file (default: `tianjian.toml` in the working directory, if any).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Where the database and blobs live (overrides `storage.data`).
    #[arg(long, global = true)]
    data: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server (the default).
    Serve {
        /// The address to listen on (overrides `server.listen`).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// The web app's build to serve from the same origin, `pwa/dist` (overrides
        /// `server.web`).
        #[arg(long)]
        web: Option<PathBuf>,
    },
    /// Backs up the data directory (database and media) into DEST, a new directory, while
    /// the server runs.
    Backup { dest: PathBuf },
    /// Restores a backup into the data directory, which must be empty.
    Restore { src: PathBuf },
    /// Shows the configuration in effect, from the defaults, the file and the environment.
    Config {
        /// Prints it as TOML, secrets redacted.
        #[arg(long)]
        print: bool,
    },
    /// Creates organisations and people, with their documents.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Rebuilds the SQL projections (records, people, media) from the documents.
    RebuildProjections,
    /// Copies everything the server keeps into another database, which must be empty (a
    /// county moving from SQLite to PostgreSQL), then compares the two: every table, every
    /// document's heads, every figure. Stop the server first; point it at the new database
    /// after (`storage.database`). Media stay where they are.
    MigrateStorage {
        /// The new database: a `postgres://user:password@host:port/name` URL (or a path,
        /// for a SQLite file).
        #[arg(long)]
        to: String,
    },
    /// Loads the demo township of the seed articles into an empty database, and prints how
    /// to sign in as its people.
    Demo {
        /// Where the app is served, for the sign-in links.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        origin: String,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Creates a branch (and its township, if new) with its documents.
    CreateBranch {
        #[arg(long)]
        township: String,
        #[arg(long)]
        name: String,
    },
    /// Creates a person; members and branch admins get a notebook and join the roster.
    CreateUser {
        #[arg(long)]
        township: String,
        #[arg(long)]
        branch: Option<BranchId>,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The phone number they may sign in with, once they have set a password.
        #[arg(long)]
        phone: Option<String>,
    },
    /// Issues a one-time invite code for a person's new device.
    Invite {
        #[arg(long)]
        user: UserId,
        #[arg(long, default_value_t = 7)]
        days: u64,
        /// Where the app is served, for the link in the QR code.
        #[arg(long, default_value = "")]
        origin: String,
        /// Writes the QR code here, as SVG.
        #[arg(long)]
        qr: Option<PathBuf>,
    },
}

fn parse_role(text: &str) -> std::result::Result<Role, String> {
    Role::parse(text).ok_or_else(|| format!("one of {}", Role::NAMES.join(", ")))
}

/// The command line acting as the server itself.
fn system() -> Principal {
    Principal {
        user: UserId::SYSTEM,
        role: Role::SystemAdmin,
        branch: None,
        township: None,
    }
}

/// The configuration with what the command line overrides.
fn configuration(cli: &Cli) -> Result<Configuration> {
    let file = match &cli.config {
        Some(path) => ConfigFile::Named(path.clone()),
        None => ConfigFile::Default,
    };
    let mut configuration = Configuration::load(&file)?;
    if let Some(data) = &cli.data {
        configuration.storage.data = data.clone();
    }
    if let Some(Command::Serve { listen, web }) = &cli.command {
        if let Some(listen) = listen {
            configuration.server.listen = *listen;
        }
        if let Some(web) = web {
            configuration.server.web = Some(web.clone());
        }
    }
    Ok(configuration)
}

/// Runs the command line.
pub async fn run(cli: Cli, configuration: Configuration) -> Result<()> {
    if let Some(Command::Config { print }) = &cli.command {
        if *print {
            print!("{}", configuration.to_toml());
        } else {
            println!("the configuration is valid; `tianjian config --print` shows it");
        }
        return Ok(());
    }
    let data = &configuration.storage.data;
    match &cli.command {
        Some(Command::Backup { dest }) => {
            let (database, blobs) = (
                configuration.database()?,
                configuration.media_settings().blobs,
            );
            let report = blocking({
                let (data, dest) = (data.clone(), dest.clone());
                move || crate::backup::backup_with(&data, &database, &blobs, &dest)
            })
            .await?;
            print_report("backed up", &report, dest);
            return Ok(());
        }
        Some(Command::Restore { src }) => {
            let (database, blobs) = (
                configuration.database()?,
                configuration.media_settings().blobs,
            );
            let report = blocking({
                let (data, src) = (data.clone(), src.clone());
                move || crate::backup::restore_with(&src, &data, &database, &blobs)
            })
            .await?;
            print_report("restored", &report, data);
            return Ok(());
        }
        Some(Command::MigrateStorage { to }) => {
            let from = configuration.database()?;
            let to = Database::from_setting(data, Some(to))
                .map_err(|why| ConfigError::Invalid(format!("--to: {why}")))?;
            return migrate_storage(from, to).await;
        }
        _ => {}
    }
    std::fs::create_dir_all(data).map_err(|source| CliError::Io {
        what: format!("cannot create {}", data.display()),
        source,
    })?;
    let store = Store::connect(&configuration.database()?)?;
    match cli.command.unwrap_or(Command::Serve {
        listen: None,
        web: None,
    }) {
        Command::Serve { .. } => {
            let web = configuration.server.web.clone();
            if let Some(web) = &web
                && !web.join("index.html").is_file()
            {
                return Err(CliError::Io {
                    what: format!("server.web: {} has no index.html", web.display()),
                    source: std::io::ErrorKind::NotFound.into(),
                });
            }
            let config = Config {
                web_dir: web,
                auth: configuration.auth_settings(),
                media: configuration.media_settings(),
                shutdown_grace: std::time::Duration::from_secs(
                    configuration.server.shutdown_grace_secs,
                ),
                trusted_proxies: configuration.server.trusted_proxies.clone(),
                ..Config::new(configuration.keys()?, data)
            };
            let state = AppState::open(store, config).await?;
            let listen = configuration.server.listen;
            let listener = TcpListener::bind(listen)
                .await
                .map_err(|source| CliError::Io {
                    what: format!("cannot listen on {listen}"),
                    source,
                })?;
            let addr = listener.local_addr().map_err(|source| CliError::Io {
                what: "no local address".into(),
                source,
            })?;
            tracing::info!(%addr, "tianjian listening");
            // On stdout, for whoever started the server on port 0.
            println!("listening on {addr}");
            serve(state, listener, shutdown_signal())
                .await
                .map_err(|source| CliError::Io {
                    what: "the server stopped".into(),
                    source,
                })?;
        }
        Command::Config { .. }
        | Command::Backup { .. }
        | Command::Restore { .. }
        | Command::MigrateStorage { .. } => {}
        Command::RebuildProjections => {
            let (documents, records) = admin::rebuild_projections(&store).await?;
            println!("rebuilt the projections of {documents} documents ({records} records)");
        }
        Command::Admin(command) => administer(&store, command).await?,
        Command::Demo { origin } => demo(&store, &origin).await?,
    }
    Ok(())
}

/// Copies the database `from` into `to` and checks that they say the same.
async fn migrate_storage(from: Database, to: Database) -> Result<()> {
    if from == to {
        return Err(ConfigError::Invalid("--to: that is the database in use".into()).into());
    }
    let copied = {
        let (from, to) = (from.clone(), to.clone());
        on_own_thread(move || crate::store::copy_database(&from, &to)).await??
    };
    let rows: u64 = copied.values().sum();
    println!(
        "copied {rows} rows ({} documents, {} changes) into {to:?}",
        copied.get("documents").copied().unwrap_or_default(),
        copied.get("changes").copied().unwrap_or_default()
    );
    let (old, new) = (Store::connect(&from)?, Store::connect(&to)?);
    let differences = crate::store::differences(&old, &new).await?;
    if !differences.is_empty() {
        return Err(CliError::Migrated(differences.join("; ")));
    }
    println!("checked: every table, every document's heads and every figure are the same");
    Ok(())
}

/// Runs blocking work on a thread of its own: the PostgreSQL client blocks on a runtime of
/// its own, which may not start on one of the server's threads.
async fn on_own_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    result.await.map_err(|_| CliError::Io {
        what: "the copy stopped".into(),
        source: std::io::ErrorKind::Interrupted.into(),
    })
}

/// Runs file work off the executor.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> crate::backup::Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| CliError::Io {
            what: "the backup stopped".into(),
            source: std::io::Error::other(error),
        })?
        .map_err(CliError::from)
}

fn print_report(done: &str, report: &crate::backup::Report, to: &std::path::Path) {
    let m = &report.manifest;
    println!(
        "{done} {} ({} bytes of database, schema {}; {} blobs, {} bytes) in {:.1} s",
        to.display(),
        m.database_bytes,
        m.schema_version,
        m.blobs,
        m.blob_bytes,
        report.elapsed.as_secs_f64()
    );
}

/// Loads the demo on first use; every time, prints the demo people's phone numbers and fresh
/// invite links for the main parts of the story.
async fn demo(store: &Store, origin: &str) -> Result<()> {
    let people = match crate::demo::load(store, now()).await? {
        Some(people) => {
            println!("loaded the demo township 周官桥乡 (合益村, 三联村, 双桥村)");
            people
        }
        None => crate::demo::people(store).await?,
    };
    if people.is_empty() {
        println!("this database has other data; the demo is loaded only into an empty one");
        return Ok(());
    }
    println!();
    println!(
        "sign in with phone number and password {}:",
        crate::demo::PASSWORD
    );
    for person in &people {
        println!(
            "  {:<12} {}  {}",
            person.user.phone.as_deref().unwrap_or(""),
            person.user.name,
            person.part
        );
    }
    println!();
    println!("or open an invite link (one-time, 7 days):");
    for person in people.iter().filter(|p| p.invite) {
        let invite = auth::issue_invite(
            store,
            &system(),
            &person.user,
            std::time::Duration::from_secs(7 * 24 * 3600),
            now(),
        )
        .await?;
        println!(
            "  {}  {origin}/#enrol={}  ({})",
            person.user.name, invite.code, person.part
        );
    }
    Ok(())
}

async fn administer(store: &Store, command: AdminCommand) -> Result<()> {
    let org = Organisation { store, hub: None };
    match command {
        AdminCommand::CreateBranch { township, name } => {
            let township = org.township(&township).await?;
            let branch = org.create_branch(township, &name, now()).await?;
            println!("branch {} ({})", branch.id, branch.name);
            println!(
                "  branch document      automerge:{}",
                branch.branch_document
            );
            println!(
                "  ledger document      automerge:{}",
                branch.ledger_document
            );
            println!(
                "  supervision document automerge:{}",
                branch.supervision_document
            );
        }
        AdminCommand::CreateUser {
            township,
            branch,
            name,
            role,
            phone,
        } => {
            let township = org.township(&township).await?;
            let new = NewUser {
                name,
                role,
                township,
                branch,
                phone,
                password: None,
            };
            let user = org.create_user(new, now()).await?;
            println!("user {} ({}, {})", user.id, user.name, user.role);
            if let Some(notebook) = user.notebook_document {
                println!("  notebook automerge:{notebook}");
            }
        }
        AdminCommand::Invite {
            user,
            days,
            origin,
            qr,
        } => {
            let record = store.user(user).await?.ok_or(CliError::NoUser(user))?;
            let ttl = std::time::Duration::from_secs(days.clamp(1, 30) * 24 * 3600);
            let invite = auth::issue_invite(store, &system(), &record, ttl, now()).await?;
            println!("invite code for {}: {}", record.name, invite.code);
            if let Some(path) = qr {
                let link = format!("{origin}/#enrol={}", invite.code);
                let svg = auth::invite_qr(&link).map_err(|error| CliError::Io {
                    what: "cannot draw the QR code".into(),
                    source: std::io::Error::other(error.to_string()),
                })?;
                std::fs::write(&path, svg).map_err(|source| CliError::Io {
                    what: format!("cannot write {}", path.display()),
                    source,
                })?;
                println!("  QR code in {}", path.display());
            }
        }
    }
    Ok(())
}

/// Parses the arguments and the configuration, logs to stderr as configured, runs, and turns
/// an error into a message and a failing exit status.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let configuration = match configuration(&cli) {
        Ok(configuration) => configuration,
        Err(error) => {
            eprintln!("tianjian: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    crate::telemetry::init_logging(&configuration.log);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tianjian: cannot start: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(run(cli, configuration));
    // Whatever is left (a compaction, a sleeping timer) has no claim on the exit: the grace
    // was for writes, and they have committed.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tianjian: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Completes on Ctrl-C or SIGTERM so that in-flight requests can finish.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
