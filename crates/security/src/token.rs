//! Bearer credential tokens.
//!
//! A token is a kind prefix followed by 32 random bytes in unpadded base64url (43 characters). Only the
//! SHA-256 of the whole token string is ever stored; the plain token is shown to its owner once.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

/// Number of random bytes in a token.
const RANDOM_BYTES: usize = 32;
/// Length of the random bytes in unpadded base64url.
const RANDOM_CHARS: usize = 43;
/// How many characters of the random part a display prefix shows.
const DISPLAY_CHARS: usize = 8;
/// How many hex characters of a hash its `Debug` output shows.
const DEBUG_HEX_CHARS: usize = 8;

/// Kinds of bearer credential, told apart by their prefix: "lu_at_" access, "lu_rt_" refresh, "lu_key_" API key,
/// "lu_st_" stream ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// Short-lived access token, prefix "lu_at_".
    Access,
    /// Refresh token, prefix "lu_rt_".
    Refresh,
    /// Long-lived API key, prefix "lu_key_".
    ApiKey,
    /// Single-use ticket for opening an event stream, prefix "lu_st_".
    StreamTicket,
}

impl TokenKind {
    /// Every kind, in declaration order.
    const ALL: [TokenKind; 4] = [TokenKind::Access, TokenKind::Refresh, TokenKind::ApiKey, TokenKind::StreamTicket];

    /// The fixed text every token of this kind starts with; no kind's prefix is a prefix of another's.
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Access => "lu_at_",
            TokenKind::Refresh => "lu_rt_",
            TokenKind::ApiKey => "lu_key_",
            TokenKind::StreamTicket => "lu_st_",
        }
    }
}

/// SHA-256 of the whole token string; what is stored and looked up (tokens have 256 bits of entropy, so a fast hash is
/// right).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// The SHA-256 of `token`'s UTF-8 bytes, prefix included; equal tokens always give equal hashes.
    pub fn of(token: &str) -> TokenHash {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// The hash as 64 lowercase hex characters; [`TokenHash::from_hex`] reads it back.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(char::from(DIGITS[usize::from(byte >> 4)]));
            out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
        }
        out
    }

    /// Reads exactly 64 hex characters (either case); anything else is `None`.
    pub fn from_hex(s: &str) -> Option<TokenHash> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            *slot = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
        }
        Some(TokenHash(out))
    }

    /// The 32 raw bytes of the hash.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Prints only the first 8 hex characters followed by "…", so logs never hold a whole hash.
impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", &self.to_hex()[..DEBUG_HEX_CHARS])
    }
}

/// A freshly issued token: `plain` is shown to its owner once and never stored; `hash` is stored.
pub struct IssuedToken {
    /// Which kind of credential this is.
    pub kind: TokenKind,
    /// The whole token (prefix + 43 base64url characters); hand it to the owner once, never store or log it.
    pub plain: String,
    /// SHA-256 of `plain`; the value to store and look up.
    pub hash: TokenHash,
    /// Prefix + first 8 characters of the random part; safe to store and show so a user can recognise a key.
    pub display_prefix: String,
}

/// Shows every field except `plain`, which is redacted.
impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("kind", &self.kind)
            .field("plain", &"<redacted>")
            .field("hash", &self.hash)
            .field("display_prefix", &self.display_prefix)
            .finish()
    }
}

/// Issues a new token of `kind` with 256 bits from the OS random source; its `plain` always passes [`parse`].
pub fn issue(kind: TokenKind) -> IssuedToken {
    let mut random = [0u8; RANDOM_BYTES];
    OsRng.fill_bytes(&mut random);
    let encoded = URL_SAFE_NO_PAD.encode(random);
    let prefix = kind.prefix();
    let plain = format!("{prefix}{encoded}");
    let display_prefix = format!("{prefix}{}", &encoded[..DISPLAY_CHARS]);
    let hash = TokenHash::of(&plain);
    IssuedToken { kind, plain, hash, display_prefix }
}

/// Parses a presented bearer string: Some only when it has a known prefix followed by exactly 43 base64url characters;
/// returns the kind and hash.
///
/// The 43 characters must also be the canonical encoding of 32 bytes (the unused low bits of the last
/// character are zero), so exactly the strings [`issue`] can produce are accepted.
pub fn parse(presented: &str) -> Option<(TokenKind, TokenHash)> {
    let (kind, rest) =
        TokenKind::ALL.iter().find_map(|&kind| presented.strip_prefix(kind.prefix()).map(|rest| (kind, rest)))?;
    if rest.len() != RANDOM_CHARS {
        return None;
    }
    let mut decoded = [0u8; RANDOM_BYTES + 4];
    match URL_SAFE_NO_PAD.decode_slice(rest, &mut decoded) {
        Ok(RANDOM_BYTES) => Some((kind, TokenHash::of(presented))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn is_base64url_char(c: char) -> bool {
        c.is_ascii_alphanumeric() || c == '-' || c == '_'
    }

    #[test]
    fn issued_token_parses_back_to_its_kind_and_hash_for_every_kind() {
        for kind in TokenKind::ALL {
            let token = issue(kind);
            assert_eq!(token.kind, kind);
            assert!(token.plain.starts_with(kind.prefix()));
            assert_eq!(token.plain.len(), kind.prefix().len() + 43);
            assert_eq!(token.hash, TokenHash::of(&token.plain));
            assert_eq!(parse(&token.plain), Some((kind, token.hash)));
        }
    }

    #[test]
    fn display_prefix_is_prefix_plus_first_eight_random_chars() {
        for kind in TokenKind::ALL {
            let token = issue(kind);
            assert_eq!(token.display_prefix.len(), kind.prefix().len() + 8);
            assert!(token.plain.starts_with(&token.display_prefix));
        }
    }

    #[test]
    fn two_issued_tokens_differ() {
        let a = issue(TokenKind::ApiKey);
        let b = issue(TokenKind::ApiKey);
        assert_ne!(a.plain, b.plain);
        assert_ne!(a.hash, b.hash);
    }

    #[test]
    fn prefixes_are_exact_and_none_is_a_prefix_of_another() {
        let expected = [
            (TokenKind::Access, "lu_at_"),
            (TokenKind::Refresh, "lu_rt_"),
            (TokenKind::ApiKey, "lu_key_"),
            (TokenKind::StreamTicket, "lu_st_"),
        ];
        for (kind, prefix) in expected {
            assert_eq!(kind.prefix(), prefix);
        }
        for a in TokenKind::ALL {
            for b in TokenKind::ALL {
                if a != b {
                    assert!(!a.prefix().starts_with(b.prefix()), "{a:?} vs {b:?}");
                }
            }
        }
    }

    #[test]
    fn parse_rejects_bad_strings() {
        let body = "A".repeat(43);
        let cases: Vec<(&str, String)> = vec![
            ("empty", String::new()),
            ("prefix only", "lu_at_".to_owned()),
            ("unknown prefix", format!("lu_xx_{body}")),
            ("prefix without underscore", format!("lu_at{body}")),
            ("upper-case prefix", format!("LU_AT_{body}")),
            ("no prefix", body.clone()),
            ("42 chars", format!("lu_at_{}", "A".repeat(42))),
            ("44 chars", format!("lu_at_{}", "A".repeat(44))),
            ("plus sign", format!("lu_rt_{}+", "A".repeat(42))),
            ("slash", format!("lu_rt_{}/", "A".repeat(42))),
            ("padding", format!("lu_key_{}=", "A".repeat(42))),
            ("dot", format!("lu_st_{}.", "A".repeat(42))),
            ("trailing space", format!("lu_at_{body} ")),
            ("leading space", format!(" lu_at_{body}")),
            ("inner space", format!("lu_at_{} {}", "A".repeat(21), "A".repeat(21))),
            ("trailing newline", format!("lu_at_{body}\n")),
            ("bearer scheme left on", format!("Bearer lu_at_{body}")),
            ("non-ascii", format!("lu_at_{}é", "A".repeat(41))),
            ("non-zero trailing bits", format!("lu_at_{}B", "A".repeat(42))),
        ];
        for (name, presented) in cases {
            assert_eq!(parse(&presented), None, "{name}: {presented:?}");
        }
    }

    #[test]
    fn parse_accepts_canonical_body_for_every_prefix() {
        for kind in TokenKind::ALL {
            let presented = format!("{}{}", kind.prefix(), "A".repeat(43));
            assert_eq!(parse(&presented), Some((kind, TokenHash::of(&presented))));
        }
    }

    #[test]
    fn hex_round_trips_and_is_lowercase() {
        let hash = TokenHash::of("lu_at_example");
        let hex = hash.to_hex();
        assert_eq!(hex.len(), 64);
        assert!(hex.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
        assert_eq!(TokenHash::from_hex(&hex), Some(hash));
        assert_eq!(TokenHash::from_hex(&hex.to_uppercase()), Some(hash));
        assert_eq!(hash.as_bytes(), &hash.0);
    }

    #[test]
    fn sha256_of_empty_string_matches_known_vector() {
        assert_eq!(TokenHash::of("").to_hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn from_hex_rejects_bad_strings() {
        let good = "0".repeat(64);
        let cases = [
            String::new(),
            "0".repeat(63),
            "0".repeat(65),
            format!("{}g", "0".repeat(63)),
            format!("{} ", "0".repeat(63)),
            format!("0x{}", "0".repeat(62)),
            format!("{}é", "0".repeat(62)),
        ];
        assert!(TokenHash::from_hex(&good).is_some());
        for s in cases {
            assert_eq!(TokenHash::from_hex(&s), None, "{s:?}");
        }
    }

    #[test]
    fn token_hash_debug_shows_only_eight_hex_chars() {
        let hash = TokenHash::of("lu_at_example");
        let hex = hash.to_hex();
        let debug = format!("{hash:?}");
        assert_eq!(debug, format!("{}…", &hex[..8]));
        assert!(!debug.contains(&hex[..9]));
    }

    #[test]
    fn issued_token_debug_redacts_plain_and_full_hash() {
        let token = issue(TokenKind::Refresh);
        let debug = format!("{token:?}");
        assert!(!debug.contains(&token.plain), "{debug}");
        assert!(!debug.contains(&token.plain[token.display_prefix.len()..]), "{debug}");
        assert!(!debug.contains(&token.hash.to_hex()), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
        assert!(debug.contains(&token.display_prefix), "{debug}");
    }

    /// What `issue` can produce: a known prefix and the canonical unpadded base64url of 32 bytes.
    fn could_be_issued(s: &str) -> bool {
        TokenKind::ALL.iter().any(|kind| {
            s.strip_prefix(kind.prefix()).is_some_and(|rest| {
                rest.len() == 43
                    && rest.chars().all(is_base64url_char)
                    && URL_SAFE_NO_PAD
                        .decode(rest)
                        .is_ok_and(|bytes| bytes.len() == 32 && URL_SAFE_NO_PAD.encode(&bytes) == rest)
            })
        })
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_accepts_only_issuable_strings(s in any::<String>()) {
            let parsed = parse(&s);
            prop_assert_eq!(parsed.is_some(), could_be_issued(&s));
            if let Some((kind, hash)) = parsed {
                prop_assert!(s.starts_with(kind.prefix()));
                prop_assert_eq!(hash, TokenHash::of(&s));
            }
        }

        #[test]
        fn parse_accepts_exactly_canonical_token_shaped_strings(
            s in "lu_(at|rt|key|st|xx)_[A-Za-z0-9_=+/ -]{41,45}"
        ) {
            let parsed = parse(&s);
            prop_assert_eq!(parsed.is_some(), could_be_issued(&s));
        }

        #[test]
        fn parse_accepts_the_encoding_of_any_32_bytes(bytes in any::<[u8; 32]>(), kind_index in 0usize..4) {
            let kind = TokenKind::ALL[kind_index];
            let s = format!("{}{}", kind.prefix(), URL_SAFE_NO_PAD.encode(bytes));
            prop_assert_eq!(parse(&s), Some((kind, TokenHash::of(&s))));
        }

        #[test]
        fn hex_round_trips_any_hash(bytes in any::<[u8; 32]>()) {
            let hash = TokenHash(bytes);
            prop_assert_eq!(TokenHash::from_hex(&hash.to_hex()), Some(hash));
        }
    }
}
