//! The `tianjian` command line: runs the sync server, and administers it. It lives in the
//! library so that the end-to-end tests can run the very same command in a process of its
//! own (to kill it, say).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use client_core::{BranchId, Role, UserId};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::admin::{self, AdminError};
use crate::auth::{AuthError, Claims, Keys};
use crate::store::{Store, StoreError};
use crate::{AppState, now, serve};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("set TIANJIAN_SECRET to the token signing key, at least 32 characters")]
    Secret,
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("no user {0}")]
    NoUser(UserId),
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
    },
    /// Creates organisations and people, with their documents.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Rebuilds the SQL projections (records, people, media) from the documents.
    RebuildProjections,
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
    },
    /// Prints an access token for a person, valid for `hours` (until enrolment exists).
    Token {
        #[arg(long)]
        user: UserId,
        #[arg(long, default_value_t = 24)]
        hours: u64,
    },
}

fn parse_role(text: &str) -> std::result::Result<Role, String> {
    Role::parse(text).ok_or_else(|| format!("one of {}", Role::NAMES.join(", ")))
}

/// The key access tokens are signed with. It must come from the environment: a server with a
/// built-in key would accept tokens anyone can make.
fn secret() -> Result<Vec<u8>> {
    let secret = std::env::var("TIANJIAN_SECRET").map_err(|_| CliError::Secret)?;
    if secret.len() < 32 {
        return Err(CliError::Secret);
    }
    Ok(secret.into_bytes())
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
    }) {
        Command::Serve { listen } => {
            let state = AppState::open(store, &secret()?).await?;
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
        Command::Admin(AdminCommand::CreateBranch { township, name }) => {
            let township = admin::township(&store, &township).await?;
            let branch = admin::create_branch(&store, township, &name, now()).await?;
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
        Command::Admin(AdminCommand::CreateUser {
            township,
            branch,
            name,
            role,
        }) => {
            let township = admin::township(&store, &township).await?;
            let user = admin::create_user(&store, township, branch, &name, role, now()).await?;
            println!("user {} ({}, {})", user.id, user.name, user.role);
            if let Some(notebook) = user.notebook_document {
                println!("  notebook automerge:{notebook}");
            }
        }
        Command::Admin(AdminCommand::Token { user, hours }) => {
            let record = store.user(user).await?.ok_or(CliError::NoUser(user))?;
            let expires = u64::try_from(now().0 / 1000).unwrap_or(0) + hours * 3600;
            let claims = Claims {
                sub: record.id,
                role: record.role,
                branch: record.branch,
                township: Some(record.township),
                exp: expires,
            };
            println!("{}", Keys::from_secret(&secret()?).issue(&claims)?);
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
