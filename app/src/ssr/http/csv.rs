//! CSV downloads (customers, reports, audit): RFC 4180 through the csv crate, spreadsheet
//! formulas neutralised, and the response headers every export shares.

use crate::error::AppError;
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// A plain-text error with the error's status, for download routes.
pub fn error_response(error: &AppError) -> Response {
    let error = crate::ssr::for_browser(error.clone());
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

/// Spreadsheets run a cell that starts with = + - @ (or a tab/CR) as a formula, and Excel and
/// LibreOffice skip leading spaces and line breaks before looking, and read the full-width
/// forms ＝＋－＠ as the ASCII ones. Upstream names and notes are not ours to trust, so such a
/// cell gets a leading apostrophe (OWASP's advice). Numbers like "-5" are prefixed too: a
/// rule with exceptions is a rule an attacker can aim at ("-5+cmd|..." parses as neither), and
/// the exports hold no negative numbers.
pub fn neutralize_formula(text: &str) -> String {
    let first_significant = text
        .chars()
        .find(|c| !matches!(c, ' ' | '\n' | '\r' | '\t' | '\u{3000}' | '\u{a0}'));
    let starts_like_formula = matches!(
        text.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\n')
    ) || matches!(
        first_significant,
        Some('=' | '+' | '-' | '@' | '＝' | '＋' | '－' | '＠')
    );
    if starts_like_formula {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// Every cell of every export is neutralised here, so no column can be forgotten; applying
/// it twice changes nothing (a neutralised cell starts with an apostrophe).
pub fn encode<const N: usize, I: IntoIterator<Item = [String; N]>>(
    records: I,
) -> Result<bytes::Bytes, std::io::Error> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for record in records {
        writer
            .write_record(record.iter().map(|cell| neutralize_formula(cell)))
            .map_err(std::io::Error::other)?;
    }
    writer
        .into_inner()
        .map(bytes::Bytes::from)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
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
        for (cell, expected) in [
            ("=SUM(A1)", "'=SUM(A1)"),
            ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
            ("-5", "'-5"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("  =HYPERLINK(\"http://x\")", "'  =HYPERLINK(\"http://x\")"),
            ("\n=1", "'\n=1"),
            (" \r\n @x", "' \r\n @x"),
            ("＝1+1", "'＝1+1"),
            ("＋1", "'＋1"),
            ("－1", "'－1"),
            ("＠x", "'＠x"),
            ("\u{3000}＝1", "'\u{3000}＝1"),
            ("Contoso", "Contoso"),
            ("Contoso = Fabrikam", "Contoso = Fabrikam"),
            ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05Z"),
            ("", ""),
            ("  ", "  "),
        ] {
            assert_eq!(neutralize_formula(cell), expected, "{cell:?}");
            assert_eq!(
                neutralize_formula(expected),
                expected,
                "idempotent: {cell:?}"
            );
        }
    }

    #[test]
    fn every_column_is_neutralized() {
        let bytes = encode([["=1".to_string(), "Contoso".to_string(), "＠x".to_string()]]).unwrap();
        assert_eq!(std::str::from_utf8(&bytes).unwrap(), "'=1,Contoso,'＠x\r\n");
    }
}
