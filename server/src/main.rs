//! The `tianjian` command: runs the sync server, and administers it.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use client_core::{BranchId, Role, UserId};
use tianjian_server::auth::{Claims, Keys};
use tianjian_server::store::Store;
use tianjian_server::{AppState, admin, now, serve};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "tianjian",
    about = "Tianjian (田间): offline-first sync for village Party branches"
)]
struct Cli {
    /// Where the database lives.
    #[arg(long, global = true, default_value = "data")]
    data: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the server (the default).
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Creates organisations and people, with their documents.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand)]
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

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| format!("one of {}", Role::NAMES.join(", ")))
}

/// The key access tokens are signed with. It must come from the environment: a server with a
/// built-in key would accept tokens anyone can make.
fn secret() -> anyhow::Result<Vec<u8>> {
    let secret =
        std::env::var("TIANJIAN_SECRET").context("set TIANJIAN_SECRET to the token signing key")?;
    anyhow::ensure!(
        secret.len() >= 32,
        "TIANJIAN_SECRET must be at least 32 characters"
    );
    Ok(secret.into_bytes())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let cli = Cli::parse();
    std::fs::create_dir_all(&cli.data)
        .with_context(|| format!("cannot create {}", cli.data.display()))?;
    let store =
        Store::open(&cli.data.join("tianjian.sqlite3")).context("cannot open the database")?;
    match cli.command.unwrap_or(Command::Serve {
        listen: "127.0.0.1:8080".parse()?,
    }) {
        Command::Serve { listen } => {
            let state = AppState::open(store, &secret()?).await?;
            let listener = TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            tracing::info!(addr = %listener.local_addr()?, "tianjian listening");
            serve(state, listener, shutdown_signal()).await?;
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
            let record = store.user(user).await?.context("no such user")?;
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
