//! What can go wrong, and the exit code each maps to (the table in
//! cli/README.md; scripts rely on it).

use std::fmt;

/// Exit codes.
pub mod code {
    pub const OK: u8 = 0;
    /// The API refused the request (400, 409, 422…) or a local failure.
    pub const REFUSED: u8 = 1;
    /// Bad command line (clap's own code).
    pub const USAGE: u8 = 2;
    /// Not configured, or the token was refused (401/403).
    pub const AUTH: u8 = 3;
    /// The thing asked for does not exist (404).
    pub const NOT_FOUND: u8 = 4;
    /// The API could not be reached or failed (5xx, timeout, refused).
    pub const UNAVAILABLE: u8 = 5;
}

#[derive(Debug)]
pub enum CliError {
    Usage(String),
    NotConfigured(String),
    /// An error answer of the API, from its envelope.
    Api {
        status: u16,
        code: String,
        message: String,
        details: Vec<String>,
    },
    Unavailable(String),
    Local(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => code::USAGE,
            CliError::NotConfigured(_) => code::AUTH,
            CliError::Api { status, .. } => match status {
                401 | 403 => code::AUTH,
                404 => code::NOT_FOUND,
                500.. => code::UNAVAILABLE,
                _ => code::REFUSED,
            },
            CliError::Unavailable(_) => code::UNAVAILABLE,
            CliError::Local(_) => code::REFUSED,
        }
    }

    /// The error as `--json` prints it (on stderr).
    pub fn to_json(&self) -> serde_json::Value {
        let (code, message, details) = match self {
            CliError::Api {
                code,
                message,
                details,
                ..
            } => (code.as_str(), message.clone(), details.clone()),
            CliError::Usage(m) => ("usage", m.clone(), vec![]),
            CliError::NotConfigured(m) => ("not_configured", m.clone(), vec![]),
            CliError::Unavailable(m) => ("unavailable", m.clone(), vec![]),
            CliError::Local(m) => ("failed", m.clone(), vec![]),
        };
        serde_json::json!({"error": {"code": code, "message": message, "details": details,
            "exitCode": self.exit_code()}})
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Api {
                status,
                code,
                message,
                details,
            } => {
                write!(f, "{message} ({code}, HTTP {status})")?;
                for d in details {
                    write!(f, "\n  - {d}")?;
                }
                Ok(())
            }
            CliError::Usage(m)
            | CliError::NotConfigured(m)
            | CliError::Unavailable(m)
            | CliError::Local(m) => f.write_str(m),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Local(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, CliError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> CliError {
        CliError::Api {
            status,
            code: "x".into(),
            message: "m".into(),
            details: vec![],
        }
    }

    #[test]
    fn exit_codes_by_status() {
        assert_eq!(api(401).exit_code(), code::AUTH);
        assert_eq!(api(404).exit_code(), code::NOT_FOUND);
        assert_eq!(api(422).exit_code(), code::REFUSED);
        assert_eq!(api(503).exit_code(), code::UNAVAILABLE);
        assert_eq!(
            CliError::Unavailable("x".into()).exit_code(),
            code::UNAVAILABLE
        );
        assert_eq!(api(422).to_json()["error"]["exitCode"], 1);
    }
}
