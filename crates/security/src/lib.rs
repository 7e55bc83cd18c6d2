//! Security primitives for Lineup.
//!
//! This crate owns password hashing (Argon2id), bearer credential tokens (random, prefixed strings that are
//! stored only as SHA-256 hashes) and encryption of third-party secrets at rest (XChaCha20-Poly1305 with
//! key rotation).
//!
//! It must not do IO other than reading the OS random source, and it must not know about HTTP, storage or
//! any other crate of the platform: callers pass strings in and get strings, hashes or errors out.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod password;
pub mod secret_box;
pub mod token;

pub use password::{
    burn_password_check, check_password_policy, generate_password, hash_password, verify_password, PasswordPolicyError,
};
pub use secret_box::{SecretBox, SecretBoxError, SecretKey};
pub use token::{issue, parse, IssuedToken, TokenHash, TokenKind};
