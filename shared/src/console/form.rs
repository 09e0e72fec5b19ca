//! A posted form's fields, and what was wrong with them (per field, and
//! for the form as a whole), mapped from the admin API's own errors.

use crate::error::FieldIssue;
use crate::http::error::ApiError;

/// Form fields.
#[derive(Debug, Default)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// A field, trimmed ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }

    /// Every value of a repeated field.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

/// A comma- or newline-separated list, trimmed, without empties.
pub fn split_list(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What went wrong with a form: issues per field and a message for the
/// form as a whole.
#[derive(Debug, Default, Clone)]
pub struct Problems {
    pub fields: Vec<FieldIssue>,
    pub message: Option<String>,
}

impl Problems {
    pub fn none() -> Self {
        Problems::default()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.message.is_none()
    }

    /// The issues of `field` (and of its sub-fields: `auth.token`).
    pub fn of(&self, field: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|i| {
                i.field == field
                    || i.field
                        .strip_prefix(field)
                        .is_some_and(|r| r.starts_with('.'))
            })
            .map(|i| i.issue.as_str())
            .collect()
    }

    /// The problems an API error stands for; `url_field` receives an
    /// `unsafe_url` refusal.
    pub fn from_api(e: &ApiError, url_field: &str) -> Self {
        match e {
            ApiError::Validation(issues) => Problems {
                fields: issues.clone(),
                message: Some("Some fields need attention.".into()),
            },
            ApiError::UnsafeUrl(m) => Problems {
                fields: vec![FieldIssue::new(url_field, m.clone())],
                message: Some("The URL was refused.".into()),
            },
            ApiError::Internal(_) => Problems {
                fields: vec![],
                message: Some("Something went wrong on our side; try again.".into()),
            },
            other => Problems {
                fields: vec![],
                message: Some(other.to_string()),
            },
        }
    }
}
