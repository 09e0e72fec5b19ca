//! The documents against the code: a figure the README or DESIGN.md takes
//! from the code (how many functions, which indexes, which modules, which
//! console pages, which port settings) is read from the code here and
//! looked for in the text, so neither can change without the other.
//! (Routes: `infra::routes_match_the_route_table` and the OpenAPI tests in
//! `shared/src/openapi.rs`; configuration variables: `infra::`.)

use std::path::{Path, PathBuf};

use leadpipe::aws::table::GSIS;
use leadpipe::http::routes::{Action, Function, ROUTES};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_owned()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn word(n: usize) -> &'static str {
    [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ][n]
}

fn capitalised(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The README's repository layout (the code block listing `functions/`).
fn layout(readme: &str) -> &str {
    let at = readme
        .find("functions/       one thin")
        .expect("the README's layout lists functions/");
    let start = readme[..at].rfind("```").expect("the layout's code block");
    let end = at + readme[at..].find("```").expect("the layout block ends");
    &readme[start..end]
}

fn has_word(text: &str, w: &str) -> bool {
    text.match_indices(w).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + w.len()..].chars().next();
        let edge = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        edge(before) && edge(after)
    })
}

#[test]
fn counts_in_the_docs_are_the_codes() {
    let readme = read("README.md");
    let design = read("docs/DESIGN.md");
    let n = Function::ALL.len();
    assert!(
        readme.contains(&format!("{} functions", word(n))),
        "README: the {} functions",
        word(n)
    );
    assert!(
        design.contains(&format!("{} binaries", capitalised(word(n)))),
        "DESIGN: {} binaries",
        capitalised(word(n))
    );
    let functions_line = layout(&readme)
        .lines()
        .find(|l| l.starts_with("functions/"))
        .unwrap();
    for f in Function::ALL {
        assert!(
            has_word(functions_line, f.name()),
            "README layout: {}",
            f.name()
        );
        assert!(
            root().join("functions").join(f.name()).is_dir(),
            "functions/{}",
            f.name()
        );
    }
    let gsis = format!("{} GSIs", word(GSIS.len()));
    assert!(readme.contains(&gsis), "README: {gsis}");
    assert!(design.contains(&gsis), "DESIGN: {gsis}");
    for g in GSIS {
        assert!(design.contains(g.name), "DESIGN names the index {}", g.name);
    }
}

#[test]
fn the_layout_names_every_module() {
    let readme = read("README.md");
    let block = layout(&readme);
    for dir in ["console", "model", "rules", "."] {
        let path = root().join("shared/src").join(dir);
        for entry in std::fs::read_dir(&path).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let stem = match name.strip_suffix(".rs") {
                Some(s) => s.to_owned(),
                None if entry.path().is_dir() && dir == "." => name.clone(),
                None => continue,
            };
            if ["mod", "lib"].contains(&stem.as_str()) || stem.ends_with("_tests") {
                continue;
            }
            assert!(
                has_word(block, &stem),
                "README's layout does not name shared/src/{dir}/{stem}"
            );
        }
    }
}

#[test]
fn every_console_page_is_in_the_readme() {
    let readme = read("README.md");
    let console = &readme[readme.find("## The console").expect("a console section")..];
    for r in ROUTES {
        let Action::Console(_) = r.action else {
            continue;
        };
        if r.method != "GET" || r.path.contains("assets") || r.path.contains("sign-in") {
            continue;
        }
        // `/console/events/{id}` is the event page, and so on.
        let path = r.path.replace("{id}", "…");
        assert!(
            console.contains(&format!("`{path}`")),
            "the README's console section does not mention `{path}`"
        );
    }
}

#[test]
fn every_port_setting_is_in_the_readme_and_the_clash_error() {
    let readme = read("README.md");
    let emulator = read("local/src/emulator.rs");
    for setting in [
        "LEADPIPE_ADDR",
        "LEADPIPE_EMULATOR_PORT",
        "AWS_ENDPOINT_URL",
    ] {
        assert!(readme.contains(setting), "README: {setting}");
        assert!(emulator.contains(setting), "the clash error: {setting}");
    }
    assert!(readme.contains("make dev-reset"));
    for setting in ["LEADPIPE_DEMO_GRAPH_ADDR", "LEADPIPE_DEMO_RECEIVER_ADDR"] {
        assert!(readme.contains(setting), "README: {setting}");
        assert!(
            read("local/src/demo.rs").contains(setting),
            "demo.rs: {setting}"
        );
    }
    assert!(readme.contains("make dev DEMO=1"));
    assert!(read("Makefile").contains("dev-reset:"));
}
