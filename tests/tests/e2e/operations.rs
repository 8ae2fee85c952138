//! Running the server for real: the `tianjian` command's configuration, layered from
//! defaults, a file and the environment, shown with its secrets redacted, and refused with
//! the key named when a value is wrong.

use std::path::Path;
use std::process::{Command, Output};

const FILE_SECRET: &str = "a signing key from the file, long enough to use";
const ENV_SECRET: &str = "a signing key from the environment, long enough";

/// Runs the `tianjian` command in `dir` with only `env` set, as a service manager would.
fn tianjian(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tianjian-under-test"))
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_configuration_is_layered_and_printed_with_its_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tianjian.toml"),
        format!(
            "[media]\nmax_blob_bytes = 1000\nquota_per_user_bytes = 2000\n\n\
             [log]\nformat = \"json\"\n\n[auth]\nsecret = \"{FILE_SECRET}\"\n"
        ),
    )
    .unwrap();
    // The file in the working directory is read without being named; the environment wins
    // over it; what neither sets keeps its default.
    let out = tianjian(
        dir.path(),
        &["config", "--print"],
        &[
            ("TIANJIAN__MEDIA__QUOTA_PER_USER_BYTES", "5000"),
            ("TIANJIAN__AUTH__SECRET", ENV_SECRET),
            (
                "TIANJIAN__AUTH__PREVIOUS_SECRETS",
                &format!("[\"{FILE_SECRET}\"]"),
            ),
        ],
    );
    let printed = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for line in [
        "max_blob_bytes = 1000",
        "quota_per_user_bytes = 5000",
        "format = \"json\"",
        "listen = \"127.0.0.1:8080\"",
        "secret = \"<redacted>\"",
        "previous_secrets = [\"<redacted>\"]",
    ] {
        assert!(printed.contains(line), "{line} in\n{printed}");
    }
    assert!(!printed.contains(FILE_SECRET) && !printed.contains(ENV_SECRET));

    // A file named on the command line is read instead; `--data` overrides all.
    let elsewhere = dir.path().join("elsewhere.toml");
    std::fs::write(&elsewhere, "[server]\nlisten = \"0.0.0.0:9000\"\n").unwrap();
    let out = tianjian(
        dir.path(),
        &[
            "--config",
            "elsewhere.toml",
            "--data",
            "/srv/tianjian",
            "config",
            "--print",
        ],
        &[],
    );
    let printed = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(printed.contains("listen = \"0.0.0.0:9000\""), "{printed}");
    assert!(printed.contains("data = \"/srv/tianjian\""), "{printed}");
    assert!(printed.contains("max_blob_bytes = 500000000"), "{printed}");

    // The commented example in the repository is a valid file, of every default.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tianjian.example.toml");
    let out = tianjian(
        dir.path(),
        &["--config", example.to_str().unwrap(), "config", "--print"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let empty = tempfile::tempdir().unwrap();
    let defaults = tianjian(empty.path(), &["config", "--print"], &[]);
    assert_eq!(text(&out.stdout), text(&defaults.stdout));
}

#[test]
fn a_bad_value_is_refused_with_its_key_and_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let refused = |args: &[&str], env: &[(&str, &str)], file: Option<&str>| {
        if let Some(file) = file {
            std::fs::write(dir.path().join("tianjian.toml"), file).unwrap();
        }
        let out = tianjian(dir.path(), args, env);
        let _ = std::fs::remove_file(dir.path().join("tianjian.toml"));
        assert!(
            !out.status.success(),
            "{args:?} {env:?} {file:?} was accepted"
        );
        text(&out.stderr)
    };
    let print = ["config", "--print"];

    let error = refused(&print, &[("TIANJIAN__MEDIA__MAX_BLOB_BYTES", "lots")], None);
    assert!(error.contains("media.max_blob_bytes"), "{error}");
    assert!(error.contains("TIANJIAN__MEDIA__MAX_BLOB_BYTES"), "{error}");

    let error = refused(&print, &[], Some("[log]\nformat = \"xml\"\n"));
    assert!(error.contains("log.format"), "{error}");
    assert!(error.contains("tianjian.toml"), "{error}");

    let error = refused(&print, &[], Some("[media]\nmax_blob = 5\n"));
    assert!(error.contains("max_blob"), "{error}");

    let error = refused(&print, &[], Some("[server]\nlisten = \"everywhere\"\n"));
    assert!(error.contains("server.listen"), "{error}");

    let error = refused(&print, &[("TIANJIAN__AUTH__SECRET", "short")], None);
    assert!(
        error.contains("auth.secret: must be at least 32 bytes"),
        "{error}"
    );
    assert!(!error.contains("short"), "a secret is never shown: {error}");

    let error = refused(&print, &[("TIANJIAN__LOG__LEVEL", "loud[")], None);
    assert!(error.contains("log.level"), "{error}");

    let error = refused(&print, &[("TIANJIAN__AUTH__ACCESS_TOKEN_SECS", "0")], None);
    assert!(error.contains("auth.access_token_secs"), "{error}");

    let error = refused(&["--config", "missing.toml", "config"], &[], None);
    assert!(error.contains("missing.toml: not found"), "{error}");

    // Serving needs a signing key; nothing else does.
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let error = refused(
        &["--data", data, "serve", "--listen", "127.0.0.1:0"],
        &[],
        None,
    );
    assert!(error.contains("auth.secret: required"), "{error}");
}
