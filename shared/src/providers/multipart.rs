//! `multipart/form-data` bodies (RFC 7578), as Jotform and browsers send
//! them: the text parts, in order, as fields. File parts are skipped (their
//! file name is kept as the value); a part that is not UTF-8 is an error.

use serde_json::Value;

use crate::rules::inbound::{BodyError, RawFields};

/// At most this many parts are read.
pub const MAX_PARTS: usize = 1000;

/// The `boundary` parameter of a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    let media = parts.next()?.trim();
    if !media.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        let v = v.trim().trim_matches('"');
        (k.trim().eq_ignore_ascii_case("boundary") && !v.is_empty() && v.len() <= 200)
            .then(|| v.to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn malformed(what: &str) -> BodyError {
    BodyError::Malformed(format!("the multipart body is malformed: {what}"))
}

/// The `name` (and `filename`) of a part's `Content-Disposition`.
fn disposition(headers: &str) -> Option<(String, Option<String>)> {
    let line = headers.lines().find(|l| {
        l.split_once(':')
            .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("content-disposition"))
    })?;
    let (_, value) = line.split_once(':')?;
    let mut name = None;
    let mut filename = None;
    for param in value.split(';').skip(1) {
        let Some((k, v)) = param.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').to_owned();
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(v),
            "filename" => filename = Some(v),
            _ => {}
        }
    }
    Some((name?, filename))
}

/// Reads a multipart body into fields.
pub fn parse(content_type: &str, body: &[u8]) -> Result<RawFields, BodyError> {
    let boundary = boundary(content_type).ok_or_else(|| malformed("no boundary"))?;
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut at = find(body, delimiter, 0).ok_or_else(|| malformed("no part"))? + delimiter.len();
    let mut out = Vec::new();
    loop {
        if body[at..].starts_with(b"--") {
            return Ok(out);
        }
        if out.len() >= MAX_PARTS {
            return Err(malformed("too many parts"));
        }
        // The rest of the delimiter line.
        let line_end = find(body, b"\n", at).ok_or_else(|| malformed("unterminated part"))?;
        let start = line_end + 1;
        let next = find(body, delimiter, start).ok_or_else(|| malformed("no closing boundary"))?;
        let part = &body[start..next];
        // The part's content ends before the line break preceding the delimiter.
        let part = part
            .strip_suffix(b"\r\n")
            .or_else(|| part.strip_suffix(b"\n"))
            .unwrap_or(part);
        let (head, content) = match find(part, b"\r\n\r\n", 0) {
            Some(i) => (&part[..i], &part[i + 4..]),
            None => match find(part, b"\n\n", 0) {
                Some(i) => (&part[..i], &part[i + 2..]),
                None => return Err(malformed("a part has no header")),
            },
        };
        let head =
            std::str::from_utf8(head).map_err(|_| malformed("a part header is not UTF-8"))?;
        let (name, filename) = disposition(head).ok_or_else(|| malformed("a part has no name"))?;
        let value = match filename {
            Some(f) => f,
            None => std::str::from_utf8(content)
                .map_err(|_| BodyError::Malformed("a form field is not valid UTF-8".into()))?
                .to_owned(),
        };
        out.push((name, Value::String(value)));
        at = next + delimiter.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const CT: &str = "multipart/form-data; boundary=XyZ";

    #[test]
    fn reads_text_and_file_parts() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nzoë@example.com\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"cv\"; filename=\"cv.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nline1\r\nline2\n\r\n--XyZ--\r\n";
        let f = parse(CT, body.as_bytes()).unwrap();
        assert_eq!(
            f,
            vec![
                ("email".into(), json!("zoë@example.com")),
                ("cv".into(), json!("cv.pdf")),
                ("note".into(), json!("line1\r\nline2\n")),
            ]
        );
    }

    #[test]
    fn bare_line_feeds_are_read_too() {
        let body = "--XyZ\nContent-Disposition: form-data; name=\"a\"\n\n1\n--XyZ--\n";
        assert_eq!(
            parse(CT, body.as_bytes()).unwrap(),
            vec![("a".into(), json!("1"))]
        );
    }

    #[test]
    fn malformed() {
        assert!(boundary("multipart/form-data").is_none());
        assert!(boundary("text/plain; boundary=x").is_none());
        for body in [
            &b""[..],
            b"--XyZ\r\n",
            b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--",
            b"--XyZ\r\nno header\r\n--XyZ--",
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\xff\r\n--XyZ--",
        ] {
            assert!(parse(CT, body).is_err(), "{body:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(CT, &body);
            let mut framed = b"--XyZ\r\n".to_vec();
            framed.extend(&body);
            let _ = parse(CT, &framed);
        }

        #[test]
        fn round_trips(fields in proptest::collection::vec(("[a-z_]{1,10}", "[^\r\n-]{0,30}"), 0..8)) {
            let mut body = String::new();
            for (k, v) in &fields {
                body.push_str(&format!("--XyZ\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"));
            }
            body.push_str("--XyZ--\r\n");
            let parsed = parse(CT, body.as_bytes()).unwrap();
            let expected: RawFields = fields.into_iter().map(|(k, v)| (k, json!(v))).collect();
            prop_assert_eq!(parsed, expected);
        }
    }
}
