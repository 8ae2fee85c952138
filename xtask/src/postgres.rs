//! A throwaway PostgreSQL server for the test run: Debian's packages, a cluster made in a
//! temporary directory, listening on a free loopback port only, with durability turned off
//! (a test database is thrown away), stopped and removed when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, ensure_debian_packages, run};

/// The environment variable the tests read the server's address from.
pub const TEST_POSTGRES: &str = "TIANJIAN_TEST_POSTGRES";

#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    as_postgres: bool,
    /// `postgres://postgres@127.0.0.1:PORT/postgres`: the superuser, who may create the
    /// tests' databases.
    pub url: String,
}

impl Postgres {
    pub fn start() -> Result<Postgres> {
        ensure_debian_packages(&["postgresql"])?;
        let bin = server_binaries()?;
        // initdb and postgres refuse to run as root: as root, run them as Debian's `postgres`.
        let as_postgres = is_root();
        let dir = std::env::temp_dir().join(format!("tianjian-postgres-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if as_postgres {
            run(Command::new("chown").arg("postgres:postgres").arg(&dir))?;
        }
        let port = free_port()?;
        let server = Postgres {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            bin,
            dir,
            as_postgres,
        };
        let data = server.dir.join("data");
        run(server
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8"])
            .args(["--locale=C.UTF-8", "--no-sync", "--no-instructions"]))?;
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
            server.dir.display()
        );
        run(server
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(server.dir.join("log"))
            .args(["-w", "-t", "60", "-s", "-o", &options, "start"]))?;
        Ok(server)
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "-s", "stop"]));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Debian keeps the server's programs off the PATH, under its major version: the newest.
fn server_binaries() -> Result<PathBuf> {
    let versions = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("PostgreSQL is not installed in /usr/lib/postgresql: {e}"))?;
    versions
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            is_server(&bin).then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no PostgreSQL server under /usr/lib/postgresql".to_owned())
}

fn is_server(bin: &Path) -> bool {
    ["postgres", "initdb", "pg_ctl"]
        .iter()
        .all(|program| bin.join(program).is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|e| e.to_string())
}
