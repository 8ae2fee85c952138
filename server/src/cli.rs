//! The `tianjian` command line: runs the sync server, and administers it. It lives in the
//! library so that the end-to-end tests can run the very same command in a process of its
//! own (to kill it, say).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use client_core::{BranchId, Principal, Role, UserId};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::admin::{self, AdminError, NewUser, Organisation};
use crate::auth::{self, AuthError, KeyRing};
use crate::store::{Store, StoreError};
use crate::{AppState, Config, StartError, now, serve};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(
        "set TIANJIAN_SECRET to the token signing key, at least 32 characters (and \
         TIANJIAN_PREVIOUS_SECRETS, separated by spaces, to the keys it replaces)"
    )]
    Secret,
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
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

#[derive(Debug, Parser)]
#[command(
    name = "tianjian",
    about = "Tianjian (田间): offline-first sync for village Party branches"
)]
pub struct Cli {
    /// Where the database lives.
    #[arg(long, global = true, default_value = "data")]
    data: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server (the default).
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The web app's build to serve from the same origin (`pwa/dist`).
        #[arg(long)]
        web: Option<PathBuf>,
    },
    /// Creates organisations and people, with their documents.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Rebuilds the SQL projections (records, people, media) from the documents.
    RebuildProjections,
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

/// The keys access tokens are signed with. They must come from the environment: a server
/// with a built-in key would accept tokens anyone can make.
fn keys() -> Result<KeyRing> {
    let current = std::env::var("TIANJIAN_SECRET").map_err(|_| CliError::Secret)?;
    let previous = std::env::var("TIANJIAN_PREVIOUS_SECRETS").unwrap_or_default();
    let previous: Vec<&[u8]> = previous.split_whitespace().map(str::as_bytes).collect();
    KeyRing::new(current.as_bytes(), &previous).map_err(|_| CliError::Secret)
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

/// Runs the command line.
pub async fn run(cli: Cli) -> Result<()> {
    std::fs::create_dir_all(&cli.data).map_err(|source| CliError::Io {
        what: format!("cannot create {}", cli.data.display()),
        source,
    })?;
    let store = Store::open(&cli.data.join("tianjian.sqlite3"))?;
    match cli.command.unwrap_or(Command::Serve {
        listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        web: None,
    }) {
        Command::Serve { listen, web } => {
            if let Some(web) = &web
                && !web.join("index.html").is_file()
            {
                return Err(CliError::Io {
                    what: format!("{} has no index.html", web.display()),
                    source: std::io::ErrorKind::NotFound.into(),
                });
            }
            let config = Config {
                web_dir: web,
                ..Config::new(keys()?, &cli.data)
            };
            let state = AppState::open(store, config).await?;
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
        Command::RebuildProjections => {
            let (documents, records) = admin::rebuild_projections(&store).await?;
            println!("rebuilt the projections of {documents} documents ({records} records)");
        }
        Command::Admin(command) => administer(&store, command).await?,
        Command::Demo { origin } => demo(&store, &origin).await?,
    }
    Ok(())
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

/// Parses the arguments, logs to stderr, runs, and turns an error into a message and a
/// failing exit status.
pub fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tianjian: cannot start: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
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
    tracing::info!("shutting down");
}
