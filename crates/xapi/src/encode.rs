//! Percent-encoding of request paths and query option values: only what must be encoded, so that
//! OData syntax (`(`, `)`, `'`, `,`, `:`, `=`, `$`, `/`) reaches 3CX as written.

/// Characters kept as they are in a path besides ASCII letters and digits: RFC 3986 `pchar` and `/`.
const PATH_KEEP: &[u8] = b"-._~!$&'()*+,;=:@/";

/// Characters kept as they are in a query option value besides ASCII letters and digits. Unlike a
/// path, `&` (separates options), `+` (read as a space by ASP.NET) and `#` are encoded.
const QUERY_VALUE_KEEP: &[u8] = b"-._~!$'()*,;=:@/?";

/// `path` with everything outside [`PATH_KEEP`] percent-encoded as UTF-8: spaces, `#`, `?`, `%`,
/// quotes other than `'`, brackets, control and non-ASCII characters.
pub fn encode_path(path: &str) -> String {
    encode(path, PATH_KEEP)
}

/// A query option value with everything outside [`QUERY_VALUE_KEEP`] percent-encoded as UTF-8.
pub fn encode_query_value(value: &str) -> String {
    encode(value, QUERY_VALUE_KEEP)
}

fn encode(text: &str, keep: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || keep.contains(&byte) {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0x0F)] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_odata_function_syntax_and_encode_the_rest() {
        let cases = [
            ("/ActiveCalls", "/ActiveCalls"),
            ("/ActiveCalls(12)/Pbx.DropCall", "/ActiveCalls(12)/Pbx.DropCall"),
            (
                "/ReportCallLogData/Pbx.GetCallLogData(periodFrom=2026-01-01T00:00:00Z,sourceFilter='O''Brien',hidePcalls=true)",
                "/ReportCallLogData/Pbx.GetCallLogData(periodFrom=2026-01-01T00:00:00Z,sourceFilter='O''Brien',hidePcalls=true)",
            ),
            ("/Users('a b')", "/Users('a%20b')"),
            ("/X(f='#1?50%')", "/X(f='%231%3F50%25')"),
            ("/X(f='Zoë')", "/X(f='Zo%C3%AB')"),
            ("/X(f='\"<>{}|\\^`[]')", "/X(f='%22%3C%3E%7B%7D%7C%5C%5E%60%5B%5D')"),
            ("/X(f='+44')", "/X(f='+44')"),
        ];
        for (input, expected) in cases {
            assert_eq!(encode_path(input), expected, "{input}");
        }
    }

    #[test]
    fn query_values_encode_separators_plus_and_spaces() {
        let cases = [
            ("Name eq 'a&b'", "Name%20eq%20'a%26b'"),
            ("Number eq '+44'", "Number%20eq%20'%2B44'"),
            ("x eq '#?%'", "x%20eq%20'%23?%25'"),
            ("Agents($select=Name;$top=5)", "Agents($select=Name;$top=5)"),
            ("é", "%C3%A9"),
        ];
        for (input, expected) in cases {
            assert_eq!(encode_query_value(input), expected, "{input}");
        }
    }

    fn decode(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    proptest::proptest! {
        #[test]
        fn encoding_round_trips_and_leaves_no_separator(text in ".*") {
            let value = encode_query_value(&text);
            proptest::prop_assert_eq!(decode(&value), text.clone());
            proptest::prop_assert!(!value.contains(['&', '+', '#', ' ']));
            let path = encode_path(&text);
            proptest::prop_assert_eq!(decode(&path), text);
            proptest::prop_assert!(!path.contains(['?', '#', ' ']));
        }
    }
}
