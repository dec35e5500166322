//! Numbers and nouns for people, written the same by the server (messages) and the pages.

/// 12345 → "12,345".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// 1 → "1 customer", 1500 → "1,500 customers": the noun agrees with the count.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_nouns() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1500), "1,500");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(count(1, "customer", "customers"), "1 customer");
        assert_eq!(count(0, "customer", "customers"), "0 customers");
        assert_eq!(count(1500, "customer", "customers"), "1,500 customers");
    }
}
