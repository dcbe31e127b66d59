//! Tokens at rest: the OAuth refresh and access tokens in `oauth_credentials` are sealed with
//! AES-256-GCM under a key from the environment (`TOKEN_ENCRYPTION_KEY`, 32 bytes, base64; on
//! GCP from Secret Manager), with the system's name as associated data, so a row copied to
//! another system does not open. A stored value is `v1:` + base64(nonce ‖ ciphertext ‖ tag).
//!
//! Rotation: set the new key as `TOKEN_ENCRYPTION_KEY` and the old one as
//! `TOKEN_ENCRYPTION_KEY_PREVIOUS`, deploy; values sealed with the old key still open, and are
//! sealed again with the new key as soon as they are read. A value stored before sealing
//! existed (plain text) is read once and sealed.

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;

use crate::config::secret::Secret;

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;

/// Why a value could not be sealed or opened. Never shows a token or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// No key is configured.
    #[error("TOKEN_ENCRYPTION_KEY is not set: tokens are never stored unencrypted")]
    NoKey,
    /// A configured key is not 32 bytes of base64.
    #[error("{0} is not 32 bytes of base64")]
    BadKey(&'static str),
    /// The value opens with neither key (another key, or tampered).
    #[error(
        "a stored token does not open with TOKEN_ENCRYPTION_KEY or TOKEN_ENCRYPTION_KEY_PREVIOUS"
    )]
    Unopenable,
}

/// Seals and opens stored tokens.
#[derive(Clone)]
pub struct TokenCipher {
    current: Option<Aes256Gcm>,
    previous: Option<Aes256Gcm>,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCipher(***)")
    }
}

fn key(s: &Secret, name: &'static str) -> Result<Option<Aes256Gcm>, SealError> {
    if s.is_empty() {
        return Ok(None);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.expose().trim())
        .map_err(|_| SealError::BadKey(name))?;
    let key = Key::<Aes256Gcm>::try_from(bytes.as_slice()).map_err(|_| SealError::BadKey(name))?;
    Ok(Some(Aes256Gcm::new(&key)))
}

impl TokenCipher {
    /// A cipher with the current key and, during a rotation, the previous one. Both may be
    /// empty (then sealing fails with [`SealError::NoKey`] when first needed).
    pub fn new(current: &Secret, previous: &Secret) -> Result<Self, SealError> {
        Ok(TokenCipher {
            current: key(current, "TOKEN_ENCRYPTION_KEY")?,
            previous: key(previous, "TOKEN_ENCRYPTION_KEY_PREVIOUS")?,
        })
    }

    /// Seals `plain` for `system`.
    pub fn seal(&self, system: &str, plain: &str) -> Result<String, SealError> {
        let cipher = self.current.as_ref().ok_or(SealError::NoKey)?;
        let nonce = Nonce::generate();
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: system.as_bytes(),
                },
            )
            .map_err(|_| SealError::NoKey)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        ))
    }

    /// Opens a stored value of `system`; the flag says it should be sealed again (it was plain
    /// text, or sealed with the previous key).
    pub fn open(&self, system: &str, stored: &str) -> Result<(String, bool), SealError> {
        let Some(b64) = stored.strip_prefix(PREFIX) else {
            return Ok((stored.to_string(), true));
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| SealError::Unopenable)?;
        if bytes.len() <= NONCE_LEN {
            return Err(SealError::Unopenable);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| SealError::Unopenable)?;
        let keys = [(&self.current, false), (&self.previous, true)];
        for (cipher, stale) in keys {
            let Some(c) = cipher else { continue };
            if let Ok(plain) = c.decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: system.as_bytes(),
                },
            ) {
                let plain = String::from_utf8(plain).map_err(|_| SealError::Unopenable)?;
                return Ok((plain, stale));
            }
        }
        Err(SealError::Unopenable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(b: u8) -> Secret {
        Secret::new(base64::engine::general_purpose::STANDARD.encode([b; 32]))
    }

    #[test]
    fn a_sealed_token_opens_only_for_its_system_and_never_shows_the_token() {
        let c = TokenCipher::new(&k(1), &Secret::default()).unwrap();
        let sealed = c.seal("drchrono", "refresh-abc").unwrap();
        assert!(sealed.starts_with("v1:") && !sealed.contains("refresh-abc"));
        assert_eq!(
            c.open("drchrono", &sealed).unwrap(),
            ("refresh-abc".into(), false)
        );
        assert_eq!(c.open("coda", &sealed), Err(SealError::Unopenable));
        assert_ne!(
            c.seal("drchrono", "refresh-abc").unwrap(),
            sealed,
            "fresh nonce"
        );
    }

    #[test]
    fn rotation_opens_old_values_and_asks_to_reseal_them() {
        let old = TokenCipher::new(&k(1), &Secret::default()).unwrap();
        let sealed = old.seal("drchrono", "t").unwrap();
        let rotated = TokenCipher::new(&k(2), &k(1)).unwrap();
        assert_eq!(
            rotated.open("drchrono", &sealed).unwrap(),
            ("t".into(), true)
        );
        let other = TokenCipher::new(&k(3), &Secret::default()).unwrap();
        assert_eq!(other.open("drchrono", &sealed), Err(SealError::Unopenable));
        assert_eq!(
            rotated.open("drchrono", "plain").unwrap(),
            ("plain".into(), true)
        );
        assert_eq!(
            TokenCipher::new(&Secret::new("short"), &Secret::default()).unwrap_err(),
            SealError::BadKey("TOKEN_ENCRYPTION_KEY")
        );
        let none = TokenCipher::new(&Secret::default(), &Secret::default()).unwrap();
        assert_eq!(none.seal("drchrono", "t"), Err(SealError::NoKey));
    }
}
