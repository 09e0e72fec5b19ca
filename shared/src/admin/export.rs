//! `GET /v1/leads/export`: the leads as CSV, safe to open in a
//! spreadsheet.

use http::{HeaderValue, header};
use lambda_http::{Body, Response};

use crate::app::Scope;
use crate::aws::pagination::PageRequest;
use crate::http::error::ApiError;
use crate::http::query_param;
use crate::model::leads::{self, LeadRecord};

/// Largest export answered at once (API Gateway and Lambda answer at most
/// 6 MB); past it the answer carries `X-Next-Cursor` to continue from.
const EXPORT_LIMIT_BYTES: usize = 5 * 1024 * 1024;

/// `GET /v1/leads/export`: CSV, built page by page (200 leads at a time);
/// only the CSV text is held, never the whole set of leads.
pub async fn leads(scope: &Scope, query: &[(String, String)]) -> Result<Response<Body>, ApiError> {
    let filter = super::leads::filter(scope, query)?;
    let mut page = PageRequest::from_query(Some("200"), query_param(query, "cursor"))?;
    let mut csv = CSV_COLUMNS.join(",");
    csv.push_str("\r\n");
    let mut rows = 0usize;
    let next = loop {
        let batch = leads::list(scope, &filter, &page).await?;
        for lead in &batch.items {
            csv_row(lead, &mut csv);
            rows += 1;
        }
        match batch.next_cursor {
            Some(c) if csv.len() < EXPORT_LIMIT_BYTES => page.cursor = Some(c),
            other => break other,
        }
    };
    tracing::info!(rows, bytes = csv.len(), "leads exported");
    let mut resp = Response::new(Body::Text(csv));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"leads.csv\""),
    );
    if let Some(c) = next.and_then(|c| HeaderValue::from_str(&c.encode()).ok()) {
        headers.insert("x-next-cursor", c);
    }
    Ok(resp)
}

const CSV_COLUMNS: [&str; 14] = [
    "id",
    "email",
    "phone",
    "firstName",
    "lastName",
    "name",
    "status",
    "tags",
    "sourceType",
    "keyId",
    "createdAt",
    "updatedAt",
    "lastSeenAt",
    "customFields",
];

/// One CSV field: quoted when it must be, and defused when a spreadsheet
/// would read it as a formula (`=`, `+`, `-`, `@`, tab, CR at the start).
pub fn csv_field(value: &str, out: &mut String) {
    let risky = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let needs_quotes = risky || value.contains([',', '"', '\n', '\r']);
    if needs_quotes {
        out.push('"');
        if risky {
            out.push('\'');
        }
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// Appends one lead as a CSV line.
fn csv_row(lead: &LeadRecord, out: &mut String) {
    let source_type = lead.source.type_name();
    let key_id = lead.source.key_id().unwrap_or("");
    let tags = lead.tags.join(";");
    let fields: [&str; 14] = [
        lead.id.as_str(),
        lead.email.as_deref().unwrap_or(""),
        lead.phone.as_deref().unwrap_or(""),
        lead.first_name.as_deref().unwrap_or(""),
        lead.last_name.as_deref().unwrap_or(""),
        lead.name.as_deref().unwrap_or(""),
        &lead.status,
        &tags,
        source_type,
        key_id,
        &lead.created_at,
        &lead.updated_at,
        &lead.last_seen_at,
        &lead.custom_fields,
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Phones are E.164 (`+…`) by construction: keep them as they are.
        if i == 2 {
            out.push_str(f);
        } else {
            csv_field(f, out);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_defused() {
        let mut s = String::new();
        csv_field("plain", &mut s);
        s.push('|');
        csv_field("a,b \"c\"", &mut s);
        s.push('|');
        csv_field("=HYPERLINK(\"x\")", &mut s);
        assert_eq!(s, "plain|\"a,b \"\"c\"\"\"|\"'=HYPERLINK(\"\"x\"\")\"");
    }
}
