//! Password hashing and password policy.
//!
//! Hashes are Argon2id PHC strings with the OWASP-recommended parameters. Verification never panics on
//! stored input: anything that is not a well-formed, reasonably sized Argon2 hash simply does not verify.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::{OsRng, RngCore};

/// Memory cost in KiB (OWASP: 19 MiB).
const MEMORY_KIB: u32 = 19_456;
/// Number of passes.
const ITERATIONS: u32 = 2;
/// Degree of parallelism.
const PARALLELISM: u32 = 1;

/// Largest memory cost a stored hash may ask for before it is refused (256 MiB), so a corrupted or hostile
/// hash cannot make verification allocate without bound.
const MAX_VERIFY_MEMORY_KIB: u32 = 262_144;
/// Largest number of passes a stored hash may ask for before it is refused.
const MAX_VERIFY_ITERATIONS: u32 = 16;
/// Largest parallelism a stored hash may ask for before it is refused.
const MAX_VERIFY_PARALLELISM: u32 = 16;

/// Fewest characters a password may have.
const MIN_CHARS: usize = 10;
/// Most characters a password may have.
const MAX_CHARS: usize = 256;

/// The password the timing dummy hash is made from; never a real credential.
const DUMMY_PASSWORD: &str = "lineup-timing-dummy-password";

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Argon2id with OWASP parameters (m = 19456 KiB, t = 2, p = 1), random 16-byte salt, PHC string output.
///
/// Every call uses a fresh salt from the OS random source, so hashing the same password twice gives two
/// different strings that both verify.
pub fn hash_password(plain: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(plain.as_bytes(), &salt)
        .expect("Argon2id with constant parameters and a generated salt cannot fail")
        .to_string()
}

/// True only when `plain` matches `phc`; a malformed or non-argon2 hash is false, never a panic.
///
/// Hashes of any Argon2 variant and version verify with the parameters they carry, as long as those
/// parameters stay within sane bounds (at most 256 MiB of memory, 16 passes and 16 lanes); the comparison of
/// the computed and stored outputs is constant-time.
pub fn verify_password(plain: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    if Algorithm::try_from(parsed.algorithm).is_err() {
        return false;
    }
    // Bound the raw numbers before argon2 sees them: besides the cost, argon2 0.5 does unchecked arithmetic on
    // them while validating (an overflow panic in debug builds).
    let bounds = [("m", MAX_VERIFY_MEMORY_KIB), ("t", MAX_VERIFY_ITERATIONS), ("p", MAX_VERIFY_PARALLELISM)];
    if bounds.iter().any(|&(name, max)| parsed.params.get_decimal(name).is_some_and(|value| value > max)) {
        return false;
    }
    if Params::try_from(&parsed).is_err() {
        return false;
    }
    Argon2::default().verify_password(plain.as_bytes(), &parsed).is_ok()
}

/// Spends the same work as one verify against a fixed dummy hash (computed once, lazily via std::sync::OnceLock),
/// so a login for an unknown user takes as long as one for a known user.
///
/// The result of the comparison is thrown away; this function never reports success.
pub fn burn_password_check(plain: &str) {
    static DUMMY_HASH: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY_HASH.get_or_init(|| hash_password(DUMMY_PASSWORD));
    std::hint::black_box(verify_password(plain, dummy));
}

/// Policy: at least 10 characters (chars, not bytes), at most 256 characters, not only whitespace,
/// and not equal (case-insensitively) to the username.
///
/// The checks run in that order and the first failure is returned.
pub fn check_password_policy(plain: &str, username: &str) -> Result<(), PasswordPolicyError> {
    // Counting stops just past the maximum, so an enormous input costs no more than a long one.
    let chars = plain.chars().take(MAX_CHARS + 1).count();
    if chars < MIN_CHARS {
        return Err(PasswordPolicyError::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(PasswordPolicyError::TooLong);
    }
    if plain.trim().is_empty() {
        return Err(PasswordPolicyError::Blank);
    }
    if plain.to_lowercase() == username.to_lowercase() {
        return Err(PasswordPolicyError::SameAsUsername);
    }
    Ok(())
}

/// Why a proposed password was refused by [`check_password_policy`]; the messages are safe to show to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    /// Fewer than 10 characters.
    #[error("password must have at least 10 characters")]
    TooShort,
    /// More than 256 characters.
    #[error("password must have at most 256 characters")]
    TooLong,
    /// Nothing but whitespace.
    #[error("password must not be blank")]
    Blank,
    /// Equal to the username, ignoring case.
    #[error("password must not be the username")]
    SameAsUsername,
}

/// Characters of generated passwords: no look-alikes (0/O, 1/l/I).
const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A random password for a person to type: four groups of five characters joined by `-`
/// (about 117 bits of entropy), drawn from the OS random source without modulo bias.
pub fn generate_password() -> String {
    let mut out = String::with_capacity(23);
    let n = PASSWORD_ALPHABET.len() as u32;
    let zone = u32::MAX - (u32::MAX % n);
    let mut produced = 0;
    while produced < 20 {
        let r = OsRng.next_u32();
        if r >= zone {
            continue;
        }
        if produced > 0 && produced % 5 == 0 {
            out.push('-');
        }
        out.push(PASSWORD_ALPHABET[(r % n) as usize] as char);
        produced += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify_with_same_password_is_true() {
        let phc = hash_password("correct horse battery staple");
        assert!(verify_password("correct horse battery staple", &phc));
    }

    #[test]
    fn verify_with_wrong_password_is_false() {
        let phc = hash_password("correct horse battery staple");
        for wrong in
            ["correct horse battery stapl", "Correct horse battery staple", "", "correct horse battery staple "]
        {
            assert!(!verify_password(wrong, &phc), "{wrong:?} must not verify");
        }
    }

    #[test]
    fn hash_uses_argon2id_with_owasp_parameters_and_16_byte_salt() {
        let phc = hash_password("some password here");
        let parsed = PasswordHash::new(&phc).expect("our own hash parses");
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(parsed.version, Some(0x13));
        let params = Params::try_from(&parsed).expect("our own params parse");
        assert_eq!((params.m_cost(), params.t_cost(), params.p_cost()), (19_456, 2, 1));
        let salt = parsed.salt.expect("salt present");
        let mut buf = [0u8; 64];
        assert_eq!(salt.decode_b64(&mut buf).expect("salt decodes").len(), 16);
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    }

    #[test]
    fn hashing_the_same_password_twice_gives_different_strings() {
        assert_ne!(hash_password("same password twice"), hash_password("same password twice"));
    }

    #[test]
    fn malformed_or_foreign_hashes_never_verify() {
        let cases = [
            "",
            "not a hash",
            "$",
            "$$$$",
            "$argon2id",
            "$argon2id$v=19",
            "$argon2id$v=19$m=19456,t=2,p=1",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$",
            "$argon2id$v=19$m=19456,t=2,p=1$!!!!$AAAA",
            "$argon2id$v=19$m=0,t=0,p=0$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            // Absurd memory cost: refused without allocating.
            "$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=19456,t=4294967295,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=19456,t=2,p=4294967295$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=19456,t=2,p=536870912$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=19456,t=2,p=1,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=-1,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=19456,t=2,p=1,x=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=99$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$pbkdf2-sha256$i=10000$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$scrypt$ln=15,r=8,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "5f4dcc3b5aa765d61d8327deb882cf99",
        ];
        for phc in cases {
            assert!(!verify_password("password", phc), "{phc:?} must not verify");
            assert!(!verify_password("", phc), "{phc:?} must not verify the empty password");
        }
    }

    #[test]
    fn truncated_real_hash_never_verifies() {
        let phc = hash_password("truncate me please");
        for end in [phc.len() - 1, phc.len() - 10, phc.len() / 2, 1] {
            assert!(!verify_password("truncate me please", &phc[..end]), "prefix of length {end} must not verify");
        }
    }

    #[test]
    fn burn_password_check_runs_repeatedly_without_panicking() {
        burn_password_check("whatever the user typed");
        burn_password_check("");
    }

    #[test]
    fn policy_table() {
        use PasswordPolicyError::*;
        let long_ok = "a".repeat(256);
        let too_long = "a".repeat(257);
        let multibyte_ok = "é".repeat(10); // 10 chars, 20 bytes
        let multibyte_short = "é".repeat(9); // 9 chars, 18 bytes: too short although 18 bytes
        let cases: Vec<(&str, &str, Result<(), PasswordPolicyError>)> = vec![
            ("", "alice", Err(TooShort)),
            ("short", "alice", Err(TooShort)),
            ("123456789", "alice", Err(TooShort)),
            ("1234567890", "alice", Ok(())),
            (&multibyte_ok, "alice", Ok(())),
            (&multibyte_short, "alice", Err(TooShort)),
            (&long_ok, "alice", Ok(())),
            (&too_long, "alice", Err(TooLong)),
            ("          ", "alice", Err(Blank)),
            ("\t\n \r\n    \t ", "alice", Err(Blank)),
            ("alice-in-wonderland", "alice-in-wonderland", Err(SameAsUsername)),
            ("Alice-In-Wonderland", "alice-in-wonderland", Err(SameAsUsername)),
            ("alice-in-wonderland", "ALICE-IN-WONDERLAND", Err(SameAsUsername)),
            ("alice-in-wonderland!", "alice-in-wonderland", Ok(())),
            ("  padded password  ", "alice", Ok(())),
        ];
        for (plain, username, expected) in cases {
            assert_eq!(check_password_policy(plain, username), expected, "password {plain:?} for user {username:?}");
        }
    }

    #[test]
    fn policy_errors_have_user_facing_messages() {
        assert_eq!(PasswordPolicyError::TooShort.to_string(), "password must have at least 10 characters");
        assert_eq!(PasswordPolicyError::TooLong.to_string(), "password must have at most 256 characters");
        assert_eq!(PasswordPolicyError::Blank.to_string(), "password must not be blank");
        assert_eq!(PasswordPolicyError::SameAsUsername.to_string(), "password must not be the username");
    }

    #[test]
    fn generated_passwords_pass_the_policy_and_differ() {
        let a = generate_password();
        let b = generate_password();
        assert_ne!(a, b);
        assert_eq!(a.len(), 23);
        assert_eq!(a.matches('-').count(), 3);
        assert!(check_password_policy(&a, "admin").is_ok());
    }
}
