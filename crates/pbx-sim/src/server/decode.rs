//! Percent-decoding of request paths, query strings and form bodies.

/// `text` with every `%XX` replaced by its byte, read as UTF-8; with `plus_is_space`, `+` is a
/// space (query strings and forms). `None` for a broken escape or bytes that are not UTF-8.
pub fn percent_decode(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The `name=value` pairs of a query string or form body, decoded; a pair without `=` has an
/// empty value. `None` when any part does not decode.
pub fn form_pairs(text: &str) -> Option<Vec<(String, String)>> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((percent_decode(name, true)?, percent_decode(value, true)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_and_broken_ones_are_refused() {
        assert_eq!(percent_decode("/Users('a%20b')", false).as_deref(), Some("/Users('a b')"));
        assert_eq!(percent_decode("Z%C3%BCrich+1", false).as_deref(), Some("Zürich+1"));
        assert_eq!(percent_decode("a+b%2B", true).as_deref(), Some("a b+"));
        assert_eq!(percent_decode("%zz", false), None);
        assert_eq!(percent_decode("%4", false), None);
        assert_eq!(percent_decode("%FF", false), None);
    }

    #[test]
    fn pairs_split_on_ampersands_and_the_first_equals_sign() {
        let pairs = form_pairs("$filter=Name%20eq%20'a%26b'&$top=5&flag&x=a=b").unwrap();
        let expected = [("$filter", "Name eq 'a&b'"), ("$top", "5"), ("flag", ""), ("x", "a=b")];
        assert_eq!(pairs, expected.map(|(k, v)| (k.to_string(), v.to_string())));
    }
}
