//! Query strings built by the app (filter links, return_to). Parsing is left to the router and
//! to axum; only encoding is needed here, and it must be the same on the server and in the wasm.

/// Percent-encodes one query value (`application/x-www-form-urlencoded`, space as `+`).
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// `key=value&…` from pairs, each value encoded.
pub fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> String {
    pairs
        .into_iter()
        .map(|(key, value)| format!("{key}={}", encode_component(&value)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_non_ascii_characters_are_encoded() {
        assert_eq!(encode_component("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            query_string([("q", "x y".to_string()), ("page", "2".to_string())]),
            "q=x+y&page=2"
        );
    }
}
