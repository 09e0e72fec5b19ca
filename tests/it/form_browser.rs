//! A plain HTML form on a static page (no JavaScript) submitted by Debian's
//! Chromium to a `form` key, landing on the redirect: tests/browser/form.mjs.
//! Skipped, loudly, where Chromium or the node modules are missing (and
//! failed then when `LEADPIPE_REQUIRE_BROWSER` is set, as `make test` does
//! once `make deps-browser` installed them).

use std::path::PathBuf;

use leadpipe_local::bootstrap::SecretOverrides;
use leadpipe_local::{LocalStack, Options};
use leadpipe_tests::{endpoint, unique_stack};

#[tokio::test]
async fn plain_form_in_chromium() {
    let chromium =
        std::env::var("LEADPIPE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let deps = std::env::var_os("LEADPIPE_BROWSER_DEPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
                .join(".cache/leadpipe-browser")
        });
    let missing: Vec<String> = [
        (!std::path::Path::new(&chromium).exists()).then(|| chromium.clone()),
        (!deps.join("node_modules/playwright-core").exists())
            .then(|| format!("{}/node_modules/playwright-core", deps.display())),
        std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_err()
            .then(|| "node".to_owned()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !missing.is_empty() {
        let msg = format!(
            "\n\n!!!!!!!! FORM BROWSER TEST SKIPPED: missing {} (run `make deps-browser`) !!!!!!!!\n\n",
            missing.join(", ")
        );
        assert!(
            std::env::var("LEADPIPE_REQUIRE_BROWSER").is_err(),
            "{msg}LEADPIPE_REQUIRE_BROWSER is set"
        );
        eprintln!("{msg}");
        return;
    }

    let endpoint = tokio::task::spawn_blocking(endpoint).await.unwrap();
    let admin = format!("adm_form_{}", unique_stack());
    let stack = LocalStack::start(Options {
        addr: "127.0.0.1:0".into(),
        endpoint: Some(endpoint),
        emulator_port: 0,
        stack: unique_stack(),
        secret: SecretOverrides {
            admin_token: Some(admin.clone()),
            ..SecretOverrides::default()
        },
        env: Vec::new(),
        state: None,
    })
    .await
    .expect("local stack starts");
    let base = stack.base_url.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(stack.serve(async {
        let _ = stop_rx.await;
    }));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let run = tokio::process::Command::new("node")
        .arg(root.join("browser/form.mjs"))
        .env("LEADPIPE_BASE_URL", &base)
        .env("LEADPIPE_ADMIN_TOKEN", &admin)
        .env("LEADPIPE_BROWSER_DEPS", &deps)
        .env("LEADPIPE_CHROMIUM", &chromium)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(180), run)
        .await
        .expect("the form's browser test ends within 3 minutes")
        .expect("node runs");
    let _ = stop_tx.send(());
    let _ = server.await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("form browser test: {stdout}");
    assert!(
        out.status.success(),
        "the plain form's browser journey failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("\"ok\":true"), "{stdout}");
}
