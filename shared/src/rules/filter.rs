//! Routing rules: a subscription's `filter`, a JSON condition tree checked
//! against the normalised lead (the `lead` object of the default body).
//!
//! ```json
//! {"all": [{"field": "customFields.country", "op": "eq", "value": "DE"},
//!          {"not": {"field": "tags", "op": "contains", "value": "spam"}}]}
//! ```
//!
//! * A condition is `{"field", "op", "value"}`; `field` is a dotted path
//!   into the lead (`email`, `status`, `tags`, `source.type`,
//!   `customFields.NAME`, where NAME may itself hold dots).
//! * `eq` / `ne`: equal (strings without regard to case, numbers by value,
//!   a number and its decimal text alike); on a list, any element.
//! * `in`: `value` is a list; true when `eq` holds for one of its items.
//! * `contains`: a string holds `value` (without regard to case), or a list
//!   has an element equal to it.
//! * `gte` / `lte`: numbers (a numeric string counts as its number).
//! * `exists`: present, not null, not "" and not an empty list; `value`
//!   may be `false` to ask for the opposite (default `true`).
//! * `{"all": [...]}`, `{"any": [...]}` (each non-empty) and `{"not": …}`.
//!
//! Parsing is strict and bounded (depth, size, lengths) and reports every
//! problem with its JSON path, so the admin API answers one 422 with all of
//! them. Evaluation is pure and total: a missing field is simply absent.

use serde_json::Value;

/// At most this many nested levels of `all`/`any`/`not`.
pub const MAX_DEPTH: usize = 8;
/// At most this many nodes in a whole filter.
pub const MAX_NODES: usize = 100;
/// At most this many items in an `in` list (and in `all`/`any`).
pub const MAX_ITEMS: usize = 100;
const MAX_FIELD_LEN: usize = 200;
const MAX_VALUE_LEN: usize = 1000;

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    In,
    Contains,
    Gte,
    Lte,
    Exists,
}

impl Op {
    pub const ALL: [Op; 7] = [
        Op::Eq,
        Op::Ne,
        Op::In,
        Op::Contains,
        Op::Gte,
        Op::Lte,
        Op::Exists,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::In => "in",
            Op::Contains => "contains",
            Op::Gte => "gte",
            Op::Lte => "lte",
            Op::Exists => "exists",
        }
    }

    fn parse(text: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    All(Vec<Filter>),
    Any(Vec<Filter>),
    Not(Box<Filter>),
    Cond { field: String, op: Op, value: Value },
}

/// A problem with a filter: where (a path such as `filter.all[1].op`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub path: String,
    pub issue: String,
}

struct Parser {
    issues: Vec<Issue>,
    nodes: usize,
}

impl Parser {
    fn issue(&mut self, path: &str, issue: impl Into<String>) {
        if self.issues.len() < 20 {
            self.issues.push(Issue {
                path: path.to_owned(),
                issue: issue.into(),
            });
        }
    }

    fn node(&mut self, v: &Value, path: &str, depth: usize) -> Option<Filter> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            if self.nodes == MAX_NODES + 1 {
                self.issue(path, format!("a filter has at most {MAX_NODES} parts"));
            }
            return None;
        }
        if depth > MAX_DEPTH {
            self.issue(path, format!("is nested deeper than {MAX_DEPTH} levels"));
            return None;
        }
        let Some(map) = v.as_object() else {
            self.issue(path, "must be an object: a condition, all, any or not");
            return None;
        };
        for group in ["all", "any"] {
            if let Some(items) = map.get(group) {
                if map.len() != 1 {
                    self.issue(path, format!("\"{group}\" must be the object's only key"));
                    return None;
                }
                return self.group(group, items, path, depth);
            }
        }
        if let Some(inner) = map.get("not") {
            if map.len() != 1 {
                self.issue(path, "\"not\" must be the object's only key");
                return None;
            }
            let inner = self.node(inner, &format!("{path}.not"), depth + 1)?;
            return Some(Filter::Not(Box::new(inner)));
        }
        self.condition(map, path)
    }

    fn group(&mut self, name: &str, items: &Value, path: &str, depth: usize) -> Option<Filter> {
        let here = format!("{path}.{name}");
        let Some(list) = items.as_array() else {
            self.issue(&here, "must be a list of conditions");
            return None;
        };
        if list.is_empty() || list.len() > MAX_ITEMS {
            self.issue(&here, format!("must hold 1 to {MAX_ITEMS} conditions"));
            return None;
        }
        let mut out = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            if let Some(f) = self.node(item, &format!("{here}[{i}]"), depth + 1) {
                out.push(f);
            }
        }
        (out.len() == list.len()).then(|| {
            if name == "all" {
                Filter::All(out)
            } else {
                Filter::Any(out)
            }
        })
    }

    fn condition(&mut self, map: &serde_json::Map<String, Value>, path: &str) -> Option<Filter> {
        let before = self.issues.len();
        if let Some(k) = map
            .keys()
            .find(|k| !["field", "op", "value"].contains(&k.as_str()))
        {
            let k: String = k.chars().take(40).collect();
            self.issue(
                path,
                format!("unknown key {k:?}: a condition has field, op and value"),
            );
        }
        let field = match map.get("field").and_then(Value::as_str) {
            Some(f) if valid_field(f) => Some(f.to_owned()),
            _ => {
                self.issue(
                    &format!("{path}.field"),
                    format!("is required: a dotted path such as \"customFields.country\" (at most {MAX_FIELD_LEN} characters)"),
                );
                None
            }
        };
        let op = match map.get("op").and_then(Value::as_str).and_then(Op::parse) {
            Some(op) => Some(op),
            None => {
                self.issue(
                    &format!("{path}.op"),
                    "must be one of eq, ne, in, contains, gte, lte, exists",
                );
                None
            }
        };
        let value = map.get("value").cloned().unwrap_or(Value::Null);
        if let Some(op) = op
            && let Some(problem) = value_issue(op, &value)
        {
            self.issue(&format!("{path}.value"), problem);
        }
        match (field, op) {
            (Some(field), Some(op)) if self.issues.len() == before => {
                Some(Filter::Cond { field, op, value })
            }
            _ => None,
        }
    }
}

fn valid_field(f: &str) -> bool {
    !f.is_empty()
        && f.len() <= MAX_FIELD_LEN
        && !f.starts_with('.')
        && !f.chars().any(char::is_control)
}

fn scalar_ok(v: &Value) -> bool {
    match v {
        Value::String(s) => s.len() <= MAX_VALUE_LEN,
        Value::Number(_) | Value::Bool(_) => true,
        _ => false,
    }
}

fn value_issue(op: Op, value: &Value) -> Option<String> {
    let scalar =
        || format!("must be a string (at most {MAX_VALUE_LEN} characters), a number or a boolean");
    match op {
        Op::Eq | Op::Ne | Op::Contains => (!scalar_ok(value)).then(scalar),
        Op::In => match value.as_array() {
            Some(items)
                if !items.is_empty() && items.len() <= MAX_ITEMS && items.iter().all(scalar_ok) =>
            {
                None
            }
            _ => Some(format!(
                "must be a list of 1 to {MAX_ITEMS} strings, numbers or booleans"
            )),
        },
        Op::Gte | Op::Lte => {
            (!value.as_f64().is_some_and(f64::is_finite)).then(|| "must be a number".to_owned())
        }
        Op::Exists => (!(value.is_null() || value.is_boolean()))
            .then(|| "must be true, false or left out".to_owned()),
    }
}

/// Parses a filter; every problem is returned, each with its path under
/// `root` (the field's name in the request).
pub fn parse(v: &Value, root: &str) -> Result<Filter, Vec<Issue>> {
    let mut p = Parser {
        issues: vec![],
        nodes: 0,
    };
    match p.node(v, root, 1) {
        Some(f) if p.issues.is_empty() => Ok(f),
        _ => {
            if p.issues.is_empty() {
                p.issue(root, "is not a valid filter");
            }
            Err(p.issues)
        }
    }
}

/// The value at `field` in `lead` (custom field names may contain dots).
fn lookup<'a>(lead: &'a Value, field: &str) -> Option<&'a Value> {
    if let Some(name) = field.strip_prefix("customFields.") {
        return lead.get("customFields")?.get(name);
    }
    let mut v = lead;
    for part in field.split('.') {
        v = match v {
            Value::Object(m) => m.get(part)?,
            _ => return None,
        };
    }
    Some(v)
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// Scalar equality: numbers by value, everything else as text without
/// regard to case.
fn scalar_eq(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (number(a), number(b))
        && (a.is_number() || b.is_number())
    {
        return x == y;
    }
    match (text(a), text(b)) {
        (Some(x), Some(y)) => x.to_lowercase() == y.to_lowercase(),
        _ => false,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn eq(found: Option<&Value>, want: &Value) -> bool {
    match found {
        Some(Value::Array(items)) => items.iter().any(|i| scalar_eq(i, want)),
        Some(v) => scalar_eq(v, want),
        None => false,
    }
}

fn present(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
        Some(_) => true,
    }
}

impl Filter {
    /// Does `lead` (the lead as the API shows it) pass?
    pub fn matches(&self, lead: &Value) -> bool {
        match self {
            Filter::All(items) => items.iter().all(|f| f.matches(lead)),
            Filter::Any(items) => items.iter().any(|f| f.matches(lead)),
            Filter::Not(inner) => !inner.matches(lead),
            Filter::Cond { field, op, value } => {
                let found = lookup(lead, field);
                match op {
                    Op::Eq => eq(found, value),
                    Op::Ne => !eq(found, value),
                    Op::In => value
                        .as_array()
                        .is_some_and(|items| items.iter().any(|w| eq(found, w))),
                    Op::Contains => match found {
                        Some(Value::Array(items)) => items.iter().any(|i| scalar_eq(i, value)),
                        Some(Value::String(s)) => text(value)
                            .is_some_and(|w| s.to_lowercase().contains(&w.to_lowercase())),
                        _ => false,
                    },
                    Op::Gte | Op::Lte => match (found.and_then(number), value.as_f64()) {
                        (Some(x), Some(y)) if *op == Op::Gte => x >= y,
                        (Some(x), Some(y)) => x <= y,
                        _ => false,
                    },
                    Op::Exists => present(found) == value.as_bool().unwrap_or(true),
                }
            }
        }
    }
}

/// Parses stored filter text (checked at save) and applies it; a filter
/// that no longer parses matches nothing (and says so in the log).
pub fn stored_matches(stored: Option<&str>, lead: &Value) -> bool {
    let Some(text) = stored else { return true };
    let parsed = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| parse(&v, "filter").ok());
    match parsed {
        Some(f) => f.matches(lead),
        None => {
            tracing::error!("a stored filter does not parse; it matches no lead until saved again");
            false
        }
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
