//! What generation can fail with.

/// Why the generator could not read its inputs or generate from them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 3CX's document, the overlay or the operations list is not valid YAML/TOML of the expected shape.
    #[error("cannot parse {what}: {message}")]
    Parse {
        /// Which input: "the XAPI document", "overlay", "operations".
        what: &'static str,
        /// The parser's message.
        message: String,
    },
    /// A patch of the overlay does not apply (its target is missing or not what the patch expects).
    #[error("overlay patch at {path}: {message}")]
    Overlay {
        /// The JSON pointer of the patch.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// An input file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The system's message.
        message: String,
    },
    /// The document lacks something the operations list or a reference names.
    #[error("not in the XAPI document: {0}")]
    Missing(String),
    /// The document uses a construct this generator does not translate.
    #[error("unsupported by lineup-xapi-gen: {0}")]
    Unsupported(String),
    /// Two generated items would get the same Rust name.
    #[error("name clash: {0}")]
    NameClash(String),
}
