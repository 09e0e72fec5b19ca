//! Where the CLI finds its API: `--url` / `LEADPIPE_URL`, `LEADPIPE_TOKEN`,
//! `--workspace` / `LEADPIPE_WORKSPACE`, else the file `leadpipe login`
//! wrote (mode 0600) under the user's config directory
//! (`$LEADPIPE_CONFIG` names another).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{CliError, Result};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
}

/// What a command talks to.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: url::Url,
    pub token: String,
    pub workspace: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The config file's path.
pub fn path() -> Result<PathBuf> {
    if let Some(p) = env("LEADPIPE_CONFIG") {
        return Ok(PathBuf::from(p));
    }
    let base = if cfg!(target_os = "macos") {
        env("HOME").map(|h| PathBuf::from(h).join("Library/Application Support"))
    } else {
        env("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".config")))
    };
    base.map(|b| b.join("leadpipe").join("config.json"))
        .ok_or_else(|| {
            CliError::NotConfigured(
                "no HOME to keep the config file in; set LEADPIPE_CONFIG, or LEADPIPE_URL and LEADPIPE_TOKEN".into(),
            )
        })
}

pub fn load() -> Result<FileConfig> {
    let p = path()?;
    match std::fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            CliError::NotConfigured(format!(
                "{} is not a leadpipe config file ({e}); run `leadpipe login` again",
                p.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileConfig::default()),
        Err(e) => Err(CliError::Local(format!("cannot read {}: {e}", p.display()))),
    }
}

/// Writes the file readable by its owner only (0600, directory 0700),
/// through a temporary file renamed into place.
pub fn save(config: &FileConfig) -> Result<PathBuf> {
    let p = path()?;
    let dir = p
        .parent()
        .ok_or_else(|| CliError::Local("the config path has no directory".into()))?;
    std::fs::create_dir_all(dir)?;
    let tmp = p.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    {
        use std::io::Write;
        let mut f = options.open(&tmp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        f.write_all(&serde_json::to_vec_pretty(config).unwrap_or_default())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &p)?;
    Ok(p)
}

/// Removes the config file (`leadpipe logout`); true when there was one.
pub fn remove() -> Result<bool> {
    match std::fs::remove_file(path()?) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Parses an API base URL (`http(s)://host[:port][/prefix]`).
pub fn parse_url(text: &str) -> Result<url::Url> {
    let mut url = url::Url::parse(text.trim())
        .map_err(|e| CliError::Usage(format!("{text:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(CliError::Usage(format!(
            "{text:?}: the API URL must be http(s)://host[:port]"
        )));
    }
    if !url.path().ends_with('/') {
        let p = format!("{}/", url.path());
        url.set_path(&p);
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// Resolves the target: flags, then the environment, then the file.
pub fn target(url_flag: Option<&str>, workspace_flag: Option<&str>) -> Result<Target> {
    let file = load()?;
    let url = url_flag
        .map(str::to_owned)
        .or_else(|| env("LEADPIPE_URL"))
        .or(file.url)
        .ok_or_else(|| {
            CliError::NotConfigured(
                "no API URL: run `leadpipe login --url https://…`, or set LEADPIPE_URL".into(),
            )
        })?;
    let token = env("LEADPIPE_TOKEN").or(file.token).ok_or_else(|| {
        CliError::NotConfigured("no token: run `leadpipe login`, or set LEADPIPE_TOKEN".into())
    })?;
    let workspace = workspace_flag
        .map(str::to_owned)
        .or_else(|| env("LEADPIPE_WORKSPACE"))
        .or(file.workspace);
    Ok(Target {
        url: parse_url(&url)?,
        token,
        workspace,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://127.0.0.1:3000").unwrap().as_str(),
            "http://127.0.0.1:3000/"
        );
        assert_eq!(
            parse_url("https://api.example.com/prod?x=1")
                .unwrap()
                .as_str(),
            "https://api.example.com/prod/"
        );
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("nope").is_err());
    }
}
