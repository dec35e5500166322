//! CSV downloads (customers, reports, audit): RFC 4180 through the csv crate, spreadsheet
//! formulas neutralised, and the response headers every export shares.

use crate::error::AppError;
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// A plain-text error with the error's status, for download routes.
pub fn error_response(error: &AppError) -> Response {
    let status = StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::BAD_GATEWAY);
    (status, format!("{error}\n")).into_response()
}

/// A CSV download: content type, file name, never cached.
pub fn csv_response(filename: &str, body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}

/// Spreadsheets run a cell that starts with = + - @ (or a tab/CR) as a formula; upstream names
/// are not ours to trust, so such a cell gets a leading apostrophe (OWASP's advice).
pub fn neutralize_formula(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_string(),
    }
}

pub fn encode<const N: usize, I: IntoIterator<Item = [String; N]>>(
    records: I,
) -> Result<bytes::Bytes, std::io::Error> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for record in records {
        writer
            .write_record(&record)
            .map_err(std::io::Error::other)?;
    }
    writer
        .into_inner()
        .map(bytes::Bytes::from)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn awkward_names_are_quoted_per_rfc_4180() {
        let rows = [[
            "Smith, Jones & \"Partners\"\nLtd".to_string(),
            "東京".to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]];
        let bytes = encode(rows).unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            "\"Smith, Jones & \"\"Partners\"\"\nLtd\",東京,,,,,,,,\r\n"
        );
    }

    #[test]
    fn formula_cells_are_neutralized() {
        assert_eq!(neutralize_formula("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(neutralize_formula("Contoso"), "Contoso");
    }
}
