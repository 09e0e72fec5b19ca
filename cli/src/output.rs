//! Printing: `--json` (the API's JSON as it came, one document; `tail` and
//! `listen` print one JSON object a line) or tables for people, coloured
//! only on a terminal (and never with `NO_COLOR` or `--no-color`).

use std::io::{IsTerminal, Write};

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy)]
pub struct Out {
    pub json: bool,
    pub color: bool,
}

#[derive(Debug, Clone, Copy)]
pub enum Tone {
    Good,
    Bad,
    Warn,
    Dim,
    Bold,
}

impl Out {
    pub fn new(json: bool, no_color: bool) -> Self {
        let color = !json
            && !no_color
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stdout().is_terminal();
        Out { json, color }
    }

    pub fn paint(&self, text: &str, tone: Tone) -> String {
        if !self.color {
            return text.to_owned();
        }
        let code = match tone {
            Tone::Good => "32",
            Tone::Bad => "31",
            Tone::Warn => "33",
            Tone::Dim => "2",
            Tone::Bold => "1",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    /// A status word coloured by what it means.
    pub fn status(&self, status: &str) -> String {
        let tone = match status {
            "PROCESSED" | "delivered" | "enabled" | "DUPLICATE" => Tone::Good,
            "FAILED" | "dead" | "disabled" => Tone::Bad,
            "RECEIVED" | "pending" => Tone::Warn,
            _ => Tone::Dim,
        };
        self.paint(status, tone)
    }

    /// Prints a JSON document (pretty on a terminal, compact otherwise).
    pub fn json<T: Serialize>(&self, value: &T) {
        let text = if std::io::stdout().is_terminal() {
            serde_json::to_string_pretty(value)
        } else {
            serde_json::to_string(value)
        };
        println!("{}", text.unwrap_or_default());
    }

    /// One JSON object on one line (streams).
    pub fn json_line<T: Serialize>(&self, value: &T) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(
            stdout,
            "{}",
            serde_json::to_string(value).unwrap_or_default()
        );
        let _ = stdout.flush();
    }

    /// A table: a header row and left-aligned columns sized to their widest
    /// cell (ANSI colour codes not counted).
    pub fn table(&self, headers: &[&str], rows: &[Vec<String>]) {
        let width = |s: &str| visible_len(s);
        let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
        for row in rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(width(cell));
                }
            }
        }
        let line = |cells: Vec<String>| {
            let mut s = String::new();
            for (i, cell) in cells.iter().enumerate() {
                s.push_str(cell);
                if i + 1 < cells.len() {
                    let pad = widths[i].saturating_sub(width(cell)) + 2;
                    s.push_str(&" ".repeat(pad));
                }
            }
            s.trim_end().to_owned()
        };
        let head = headers
            .iter()
            .map(|h| self.paint(h, Tone::Bold))
            .collect::<Vec<_>>();
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", line(head));
        for row in rows {
            let _ = writeln!(stdout, "{}", line(row.clone()));
        }
        if rows.is_empty() {
            let _ = writeln!(stdout, "{}", self.paint("(none)", Tone::Dim));
        }
    }

    /// `key: value` lines for one object.
    pub fn fields(&self, pairs: &[(&str, String)]) {
        let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in pairs {
            println!("{}  {v}", self.paint(&format!("{k:<w$}"), Tone::Bold));
        }
    }
}

fn visible_len(s: &str) -> usize {
    let mut n = 0;
    let mut in_escape = false;
    for c in s.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

/// A JSON value as a table cell: strings bare, lists comma-joined, null
/// as `-`.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) if s.is_empty() => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "-".into(),
        Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// At most `max` characters, with `…` when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_widths() {
        assert_eq!(cell(&serde_json::json!(["a", "b"])), "a,b");
        assert_eq!(cell(&Value::Null), "-");
        assert_eq!(visible_len("\x1b[32mok\x1b[0m"), 2);
        assert_eq!(clip("abcdef", 4), "abc…");
        let out = Out {
            json: false,
            color: true,
        };
        assert_eq!(out.status("dead"), "\x1b[31mdead\x1b[0m");
        let plain = Out {
            json: false,
            color: false,
        };
        assert_eq!(plain.status("dead"), "dead");
    }
}
