//! Refresh tokens at rest: AES-256-GCM with a random nonce, the row's key as associated data so a
//! sealed token copied to another user's row does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

const NONCE_LEN: usize = 12;

#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<key redacted>)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the stored credential cannot be opened (wrong key or tampered)")]
pub struct UnsealError;

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Self {
        Sealer {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    pub fn seal(&self, plaintext: &str, associated: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce cannot fail for inputs of this size.
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: associated.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        STANDARD.encode(out)
    }

    pub fn open(&self, sealed: &str, associated: &str) -> Result<String, UnsealError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| UnsealError)?;
        if bytes.len() <= NONCE_LEN {
            return Err(UnsealError);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plaintext = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: associated.as_bytes(),
                },
            )
            .map_err(|_| UnsealError)?;
        String::from_utf8(plaintext).map_err(|_| UnsealError)
    }
}

/// Demo mode keeps its generated key in a file so sign-ins survive a restart.
pub fn load_or_create_key_file(path: &std::path::Path) -> std::io::Result<[u8; 32]> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not base64", path.display()),
            )
        })?;
        return bytes.try_into().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} does not hold 32 bytes", path.display()),
            )
        });
    }
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    write_private(path, STANDARD.encode(key).as_bytes())?;
    Ok(key)
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let sealer = Sealer::new(&[7u8; 32]);
        let sealed = sealer.seal("refresh-token-value", "tenant:user-a");
        assert!(!sealed.contains("refresh-token-value"));
        assert_eq!(
            sealer.open(&sealed, "tenant:user-a").unwrap(),
            "refresh-token-value"
        );
        assert_eq!(sealer.open(&sealed, "tenant:user-b"), Err(UnsealError));
        assert_eq!(
            Sealer::new(&[8u8; 32]).open(&sealed, "tenant:user-a"),
            Err(UnsealError)
        );
        assert_eq!(sealer.open("not base64!", "x"), Err(UnsealError));
    }

    #[test]
    fn key_file_is_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("dash-key-{}", uuid::Uuid::new_v4()));
        let path = dir.join("key");
        let first = load_or_create_key_file(&path).unwrap();
        let second = load_or_create_key_file(&path).unwrap();
        assert_eq!(first, second);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
