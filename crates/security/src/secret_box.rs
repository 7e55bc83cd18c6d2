//! Encryption of third-party credentials at rest (PBX client secrets, webhook secrets).
//!
//! Secrets are sealed with XChaCha20-Poly1305 under the primary key and a random 192-bit nonce, with a
//! caller-chosen context string bound as associated data. The sealed text names the key it was sealed with,
//! so older keys can be kept for opening while everything new is sealed under the primary one.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

/// Version tag every sealed string starts with.
const FORMAT_TAG: &str = "lx1";
/// Key length in bytes.
const KEY_BYTES: usize = 32;
/// XChaCha20 nonce length in bytes.
const NONCE_BYTES: usize = 24;
/// Poly1305 tag length in bytes; every ciphertext is at least this long.
const TAG_BYTES: usize = 16;
/// Longest key id.
const MAX_KEY_ID_CHARS: usize = 255;

fn is_valid_key_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_KEY_ID_CHARS && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A 256-bit key with an id (1..=255 ascii alnum chars, used for key rotation).
///
/// The key bytes are wiped from memory when the key is dropped and never appear in `Debug` output.
pub struct SecretKey {
    id: String,
    bytes: Zeroizing<[u8; KEY_BYTES]>,
}

impl SecretKey {
    /// Parses `"<id>:<base64 (standard or url-safe, padded or not) of exactly 32 bytes>"`.
    ///
    /// Surrounding whitespace (such as the newline at the end of a key file) is ignored; anything else that
    /// does not fit the form is [`SecretBoxError::BadKey`].
    pub fn parse(spec: &str) -> Result<SecretKey, SecretBoxError> {
        let (id, encoded) = spec.trim().split_once(':').ok_or(SecretBoxError::BadKey)?;
        if !is_valid_key_id(id) {
            return Err(SecretBoxError::BadKey);
        }
        // Decode into a wiped scratch buffer a little larger than a key, so a slightly too long input is
        // reported as a wrong length rather than overflowing, and failed attempts leave nothing behind.
        let mut scratch = Zeroizing::new([0u8; KEY_BYTES + 4]);
        let decoded_len = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
            .into_iter()
            .find_map(|engine| engine.decode_slice(encoded, &mut scratch[..]).ok())
            .ok_or(SecretBoxError::BadKey)?;
        if decoded_len != KEY_BYTES {
            return Err(SecretBoxError::BadKey);
        }
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        bytes.copy_from_slice(&scratch[..KEY_BYTES]);
        Ok(SecretKey { id: id.to_owned(), bytes })
    }

    /// A new random key in the same `"<id>:<base64>"` text form (for `lineup admin generate-key` and docs).
    ///
    /// The key comes from the OS random source and is written in padded standard base64; the result always
    /// passes [`SecretKey::parse`].
    ///
    /// # Panics
    ///
    /// Panics when `id` is not 1..=255 ASCII alphanumeric characters, since no valid key could carry it;
    /// callers taking the id from a user should check it first.
    pub fn generate(id: &str) -> String {
        assert!(is_valid_key_id(id), "secret key id must be 1 to 255 ASCII letters or digits");
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        OsRng.fill_bytes(&mut bytes[..]);
        format!("{id}:{}", STANDARD.encode(&bytes[..]))
    }

    /// The key's id, as written in front of the colon and in every string it seals.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(&self.bytes[..]))
    }
}

/// Prints the key id only, never the key bytes.
impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey").field("id", &self.id).finish_non_exhaustive()
    }
}

/// Seals with the primary key; opens with any key it holds (old keys stay for rotation).
pub struct SecretBox {
    primary: SecretKey,
    older: Vec<SecretKey>,
}

/// The parts of a well-formed sealed string.
struct Sealed<'a> {
    key_id: &'a str,
    nonce: [u8; NONCE_BYTES],
    ciphertext: Vec<u8>,
}

impl<'a> Sealed<'a> {
    fn parse(sealed: &'a str) -> Result<Sealed<'a>, SecretBoxError> {
        let mut parts = sealed.split('.');
        let (Some(FORMAT_TAG), Some(key_id), Some(nonce_text), Some(ciphertext_text), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SecretBoxError::Malformed);
        };
        if !is_valid_key_id(key_id) {
            return Err(SecretBoxError::Malformed);
        }
        let mut nonce = [0u8; NONCE_BYTES];
        let mut nonce_scratch = [0u8; NONCE_BYTES + 4];
        match URL_SAFE_NO_PAD.decode_slice(nonce_text, &mut nonce_scratch) {
            Ok(NONCE_BYTES) => nonce.copy_from_slice(&nonce_scratch[..NONCE_BYTES]),
            _ => return Err(SecretBoxError::Malformed),
        }
        let ciphertext = URL_SAFE_NO_PAD.decode(ciphertext_text).map_err(|_| SecretBoxError::Malformed)?;
        if ciphertext.len() < TAG_BYTES {
            return Err(SecretBoxError::Malformed);
        }
        Ok(Sealed { key_id, nonce, ciphertext })
    }
}

impl SecretBox {
    /// A box that seals with `primary` and opens with `primary` or any of `older`; when ids repeat, every
    /// key with the sealed string's id is tried, the primary first.
    pub fn new(primary: SecretKey, older: Vec<SecretKey>) -> SecretBox {
        SecretBox { primary, older }
    }

    fn keys(&self) -> impl Iterator<Item = &SecretKey> {
        std::iter::once(&self.primary).chain(self.older.iter())
    }

    /// XChaCha20-Poly1305 with a random 24-byte nonce; `context` (e.g. `"tenant:<uuid>/pbx:<uuid>/client_secret"`) is
    /// bound as associated data so a ciphertext moved to another row does not open.
    /// Output text: `"lx1.<key id>.<base64url nonce>.<base64url ciphertext>"` (no padding).
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .primary
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: context.as_bytes() })
            .expect("XChaCha20-Poly1305 encryption only fails for messages far beyond any string in memory");
        format!(
            "{FORMAT_TAG}.{}.{}.{}",
            self.primary.id,
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(ciphertext)
        )
    }

    /// Opens a sealed string; errors (never panics) on unknown key id, malformed text, wrong context or tampering.
    ///
    /// The checks run in that order of cost: [`SecretBoxError::Malformed`] for text not in the sealed form,
    /// [`SecretBoxError::UnknownKey`] when no held key has its id, [`SecretBoxError::DoesNotOpen`] when
    /// authentication fails. The plaintext is wiped from memory when the returned value is dropped.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Zeroizing<String>, SecretBoxError> {
        let parsed = Sealed::parse(sealed)?;
        let mut candidates = self.keys().filter(|key| key.id == parsed.key_id).peekable();
        if candidates.peek().is_none() {
            return Err(SecretBoxError::UnknownKey(parsed.key_id.to_owned()));
        }
        let plaintext = candidates
            .find_map(|key| {
                key.cipher()
                    .decrypt(
                        XNonce::from_slice(&parsed.nonce),
                        Payload { msg: &parsed.ciphertext, aad: context.as_bytes() },
                    )
                    .ok()
            })
            .ok_or(SecretBoxError::DoesNotOpen)?;
        match String::from_utf8(plaintext) {
            Ok(text) => Ok(Zeroizing::new(text)),
            Err(err) => {
                // Authentic but not text: not something `seal` wrote. Wipe the bytes before refusing.
                drop(Zeroizing::new(err.into_bytes()));
                Err(SecretBoxError::Malformed)
            }
        }
    }

    /// True when `sealed` was sealed under a key other than the primary (so it should be re-sealed).
    ///
    /// Text that is not in the sealed form is false, as there is nothing to re-seal; a well-formed string
    /// under an id this box does not hold is true, and opening it will report [`SecretBoxError::UnknownKey`].
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        Sealed::parse(sealed).is_ok_and(|parsed| parsed.key_id != self.primary.id)
    }
}

/// Prints the key ids only, never key bytes.
impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let older: Vec<&str> = self.older.iter().map(SecretKey::id).collect();
        f.debug_struct("SecretBox").field("primary", &self.primary.id).field("older", &older).finish()
    }
}

/// Why a key could not be parsed or a sealed secret could not be opened; messages never contain secret material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretBoxError {
    /// The key text is not `"<id>:<base64 of 32 bytes>"` with a valid id.
    #[error("secret key must look like <id>:<base64 of 32 bytes>")]
    BadKey,
    /// The sealed text is not in the `"lx1.<id>.<nonce>.<ciphertext>"` form.
    #[error("sealed secret is malformed")]
    Malformed,
    /// The sealed text names a key id this box does not hold.
    #[error("sealed secret uses unknown key {0}")]
    UnknownKey(String),
    /// Authentication failed: wrong key bytes, wrong context, or the text was altered.
    #[error("sealed secret does not open (wrong key or context, or tampered)")]
    DoesNotOpen,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CONTEXT: &str =
        "tenant:0b6f2f0e-8a53-4b55-9d0e-2f1c3e4d5a6b/pbx:7d1e9c2a-3b4f-4e5d-8c6b-1a2b3c4d5e6f/client_secret";

    fn key(id: &str) -> SecretKey {
        SecretKey::parse(&SecretKey::generate(id)).expect("generated key parses")
    }

    fn single_box() -> SecretBox {
        SecretBox::new(key("k1"), Vec::new())
    }

    #[test]
    fn seal_then_open_returns_the_plaintext() {
        let sb = single_box();
        for plaintext in ["", "s3cr3t", "pässwörd with ünïcode ✓", &"x".repeat(10_000)] {
            let sealed = sb.seal(plaintext, CONTEXT);
            assert_eq!(sb.open(&sealed, CONTEXT).as_deref().map(String::as_str), Ok(plaintext));
        }
    }

    #[test]
    fn sealed_text_has_the_documented_shape() {
        let sb = single_box();
        let sealed = sb.seal("s3cr3t", CONTEXT);
        let parts: Vec<&str> = sealed.split('.').collect();
        assert_eq!(parts.len(), 4, "{sealed}");
        assert_eq!(parts[0], "lx1");
        assert_eq!(parts[1], "k1");
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).expect("nonce decodes").len(), 24);
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[3]).expect("ciphertext decodes").len(), "s3cr3t".len() + 16);
        assert!(!sealed.contains('='));
        assert!(!sealed.contains("s3cr3t"));
    }

    #[test]
    fn sealing_twice_gives_different_text() {
        let sb = single_box();
        assert_ne!(sb.seal("same", CONTEXT), sb.seal("same", CONTEXT));
    }

    #[test]
    fn wrong_context_does_not_open() {
        let sb = single_box();
        let sealed = sb.seal("s3cr3t", CONTEXT);
        for other in ["", "tenant:x/pbx:y/client_secret", &format!("{CONTEXT} "), &CONTEXT[..CONTEXT.len() - 1]] {
            assert_eq!(sb.open(&sealed, other), Err(SecretBoxError::DoesNotOpen), "context {other:?}");
        }
    }

    #[test]
    fn any_flipped_byte_in_nonce_or_ciphertext_does_not_open() {
        let sb = single_box();
        let sealed = sb.seal("s3cr3t", CONTEXT);
        let parts: Vec<&str> = sealed.split('.').collect();
        let nonce = URL_SAFE_NO_PAD.decode(parts[2]).expect("nonce decodes");
        let ciphertext = URL_SAFE_NO_PAD.decode(parts[3]).expect("ciphertext decodes");
        for i in 0..nonce.len() {
            let mut bad = nonce.clone();
            bad[i] ^= 0x01;
            let tampered = format!("lx1.k1.{}.{}", URL_SAFE_NO_PAD.encode(&bad), URL_SAFE_NO_PAD.encode(&ciphertext));
            assert_eq!(sb.open(&tampered, CONTEXT), Err(SecretBoxError::DoesNotOpen), "nonce byte {i}");
        }
        for i in 0..ciphertext.len() {
            let mut bad = ciphertext.clone();
            bad[i] ^= 0x80;
            let tampered = format!("lx1.k1.{}.{}", parts[2], URL_SAFE_NO_PAD.encode(&bad));
            assert_eq!(sb.open(&tampered, CONTEXT), Err(SecretBoxError::DoesNotOpen), "ciphertext byte {i}");
        }
    }

    #[test]
    fn same_id_with_different_key_bytes_does_not_open() {
        let sealed = single_box().seal("s3cr3t", CONTEXT);
        let other = single_box();
        assert_eq!(other.open(&sealed, CONTEXT), Err(SecretBoxError::DoesNotOpen));
    }

    #[test]
    fn unknown_key_id_is_reported_by_name() {
        let sealed = SecretBox::new(key("retired"), Vec::new()).seal("s3cr3t", CONTEXT);
        let sb = single_box();
        assert_eq!(sb.open(&sealed, CONTEXT), Err(SecretBoxError::UnknownKey("retired".to_owned())));
        assert_eq!(
            SecretBoxError::UnknownKey("retired".to_owned()).to_string(),
            "sealed secret uses unknown key retired"
        );
    }

    #[test]
    fn old_key_still_opens_and_needs_reseal_until_resealed() {
        let old_spec = SecretKey::generate("k1");
        let old_box = SecretBox::new(SecretKey::parse(&old_spec).expect("parses"), Vec::new());
        let sealed_old = old_box.seal("s3cr3t", CONTEXT);
        assert!(!old_box.needs_reseal(&sealed_old));

        let rotated = SecretBox::new(key("k2"), vec![SecretKey::parse(&old_spec).expect("parses")]);
        assert_eq!(rotated.open(&sealed_old, CONTEXT).as_deref().map(String::as_str), Ok("s3cr3t"));
        assert!(rotated.needs_reseal(&sealed_old));

        let resealed = rotated.seal(&rotated.open(&sealed_old, CONTEXT).expect("opens"), CONTEXT);
        assert!(resealed.starts_with("lx1.k2."));
        assert!(!rotated.needs_reseal(&resealed));
        assert_eq!(rotated.open(&resealed, CONTEXT).as_deref().map(String::as_str), Ok("s3cr3t"));
        assert_eq!(old_box.open(&resealed, CONTEXT), Err(SecretBoxError::UnknownKey("k2".to_owned())));
    }

    #[test]
    fn needs_reseal_is_false_for_malformed_text() {
        let sb = single_box();
        for text in ["", "plain text", "lx1.k2", "lx2.k2.AAAA.AAAA"] {
            assert!(!sb.needs_reseal(text), "{text:?}");
        }
    }

    #[test]
    fn malformed_sealed_text_is_refused() {
        let sb = single_box();
        let good = sb.seal("s3cr3t", CONTEXT);
        let parts: Vec<&str> = good.split('.').collect();
        let (nonce, ct) = (parts[2], parts[3]);
        let cases = [
            String::new(),
            "s3cr3t".to_owned(),
            "lx1".to_owned(),
            "lx1...".to_owned(),
            format!("lx2.k1.{nonce}.{ct}"),
            format!("LX1.k1.{nonce}.{ct}"),
            format!("lx1..{nonce}.{ct}"),
            format!("lx1.k-1.{nonce}.{ct}"),
            format!("lx1.{}.{nonce}.{ct}", "k".repeat(256)),
            format!("lx1.k1.{nonce}"),
            format!("lx1.k1.{nonce}.{ct}.extra"),
            format!("lx1.k1.{nonce}.{ct}="),
            format!("lx1.k1.{nonce}=.{ct}"),
            format!("lx1.k1.{}.{ct}", &nonce[..nonce.len() - 1]),
            format!("lx1.k1.{nonce}A.{ct}"),
            format!("lx1.k1.{nonce}.{}", &ct[..20]),
            format!("lx1.k1.{nonce}."),
            format!("lx1.k1.{nonce}.a+b/"),
            format!(" {good}"),
            format!("{good}\n"),
        ];
        for text in cases {
            assert_eq!(sb.open(&text, CONTEXT), Err(SecretBoxError::Malformed), "{text:?}");
        }
    }

    #[test]
    fn authentic_non_utf8_plaintext_is_malformed_not_a_panic() {
        let sb = single_box();
        let nonce = [7u8; NONCE_BYTES];
        let ciphertext = sb
            .primary
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: &[0xff, 0xfe], aad: CONTEXT.as_bytes() })
            .expect("encrypts");
        let sealed = format!("lx1.k1.{}.{}", URL_SAFE_NO_PAD.encode(nonce), URL_SAFE_NO_PAD.encode(ciphertext));
        assert_eq!(sb.open(&sealed, CONTEXT), Err(SecretBoxError::Malformed));
    }

    #[test]
    fn key_parse_table() {
        let raw: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(37).wrapping_add(251)).collect();
        let std_pad = STANDARD.encode(&raw);
        let std_nopad = STANDARD_NO_PAD.encode(&raw);
        let url_pad = URL_SAFE.encode(&raw);
        let url_nopad = URL_SAFE_NO_PAD.encode(&raw);
        assert!(std_pad.contains('+') || std_pad.contains('/'), "test vector should exercise the alphabets");
        let long_id = "a".repeat(255);
        let ok = |id: &str| Ok(id.to_owned());
        let bad = || Err(SecretBoxError::BadKey);
        let cases: Vec<(String, Result<String, SecretBoxError>)> = vec![
            (format!("k1:{std_pad}"), ok("k1")),
            (format!("k1:{std_nopad}"), ok("k1")),
            (format!("k1:{url_pad}"), ok("k1")),
            (format!("k1:{url_nopad}"), ok("k1")),
            (format!("  primary2024:{std_pad}\n"), ok("primary2024")),
            (format!("{long_id}:{std_pad}"), ok(&long_id)),
            (String::new(), bad()),
            (std_pad.clone(), bad()),
            (format!(":{std_pad}"), bad()),
            (format!("{}:{std_pad}", "a".repeat(256)), bad()),
            (format!("k-1:{std_pad}"), bad()),
            (format!("k.1:{std_pad}"), bad()),
            (format!("kü:{std_pad}"), bad()),
            ("k1:".to_owned(), bad()),
            (format!("k1:{}", STANDARD.encode([0u8; 31])), bad()),
            (format!("k1:{}", STANDARD.encode([0u8; 33])), bad()),
            (format!("k1:{}", STANDARD.encode([0u8; 64])), bad()),
            (format!("k1:{std_pad}:extra"), bad()),
            (format!("k1:{} ", &std_pad[..20]), bad()),
            (format!("k1:{}", &std_pad[..42]), bad()),
            ("k1:not base64 at all!!".to_owned(), bad()),
        ];
        for (spec, expected) in cases {
            let got = SecretKey::parse(&spec).map(|k| k.id().to_owned());
            assert_eq!(got, expected, "{spec:?}");
        }
    }

    #[test]
    fn all_base64_forms_of_a_key_seal_and_open_interchangeably() {
        let raw = [42u8; 32];
        let a = SecretKey::parse(&format!("k1:{}", STANDARD.encode(raw))).expect("parses");
        let b = SecretKey::parse(&format!("k1:{}", URL_SAFE_NO_PAD.encode(raw))).expect("parses");
        let sealed = SecretBox::new(a, Vec::new()).seal("s3cr3t", CONTEXT);
        assert_eq!(SecretBox::new(b, Vec::new()).open(&sealed, CONTEXT).as_deref().map(String::as_str), Ok("s3cr3t"));
    }

    #[test]
    fn generated_key_has_documented_form() {
        let spec = SecretKey::generate("k7");
        let (id, encoded) = spec.split_once(':').expect("has a colon");
        assert_eq!(id, "k7");
        assert_eq!(STANDARD.decode(encoded).expect("standard base64").len(), 32);
        assert_ne!(SecretKey::generate("k7"), spec);
    }

    #[test]
    #[should_panic(expected = "secret key id")]
    fn generate_with_invalid_id_panics() {
        let _ = SecretKey::generate("not valid!");
    }

    #[test]
    fn debug_output_shows_ids_but_no_key_material() {
        let spec = SecretKey::generate("k1");
        let encoded = spec.split_once(':').expect("has a colon").1.to_owned();
        let k = SecretKey::parse(&spec).expect("parses");
        let key_debug = format!("{k:?}");
        assert!(key_debug.contains("k1"), "{key_debug}");
        assert!(!key_debug.contains(&encoded), "{key_debug}");
        assert!(!key_debug.contains("bytes"), "{key_debug}");
        let sb = SecretBox::new(k, vec![key("k0")]);
        let box_debug = format!("{sb:?}");
        assert!(box_debug.contains("k1") && box_debug.contains("k0"), "{box_debug}");
        assert!(!box_debug.contains(&encoded), "{box_debug}");
    }

    proptest! {
        #[test]
        fn seal_open_round_trips_arbitrary_strings(plaintext in any::<String>(), context in any::<String>()) {
            let sb = single_box();
            let sealed = sb.seal(&plaintext, &context);
            let opened = sb.open(&sealed, &context);
            prop_assert_eq!(opened.as_deref().map(String::as_str), Ok(plaintext.as_str()));
            prop_assert!(!sb.needs_reseal(&sealed));
        }

        #[test]
        fn open_never_panics_on_arbitrary_text(text in any::<String>(), context in any::<String>()) {
            let _ = single_box().open(&text, &context);
        }

        #[test]
        fn open_never_panics_on_sealed_shaped_text(
            text in "lx1\\.[a-z0-9]{1,3}\\.[A-Za-z0-9_=-]{0,40}\\.[A-Za-z0-9_=-]{0,40}"
        ) {
            let _ = single_box().open(&text, CONTEXT);
        }

        #[test]
        fn key_parse_never_panics(spec in any::<String>()) {
            let _ = SecretKey::parse(&spec);
        }
    }
}
