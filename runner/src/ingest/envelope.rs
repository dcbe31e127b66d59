//! Opening a Deep Cura gridhook: find the IV and ciphertext where `systems.yaml`
//! (`deepcura.envelope`) says they are, decode them, and decrypt with AES-256-CBC (PKCS#7),
//! key = SHA-256(shared secret). Errors name what is wrong with the envelope, never its
//! content; the plaintext is patient data and is handed back to the caller only.
//!
//! CBC is not authenticated: the shared-secret header is what authenticates the sender, and a
//! tampered ciphertext shows up as bad padding or bad JSON, both rejected.

use aes::Aes256;
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::systems::{DeepCura, Encoding, IvLocation};

/// AES block and IV length, in bytes.
pub const IV_LEN: usize = 16;

/// Why a gridhook cannot be opened. All are the caller's fault (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The body is not the JSON object the envelope declares.
    #[error("the body is not a JSON envelope")]
    NotJson,
    /// The IV is not where the envelope says.
    #[error("the IV is missing")]
    MissingIv,
    /// The ciphertext is not where the envelope says.
    #[error("the ciphertext is missing")]
    MissingData,
    /// The IV or ciphertext is not valid base64/hex.
    #[error("the {0} is not valid {1}")]
    BadEncoding(&'static str, &'static str),
    /// The IV is not 16 bytes.
    #[error("the IV is not 16 bytes")]
    BadIvLength,
    /// Not a whole number of blocks, or the padding is wrong (a wrong key or a tampered
    /// ciphertext).
    #[error("decryption failed")]
    Decrypt,
}

/// The AES-256 key: SHA-256 of the shared secret (UTF-8).
pub fn derive_key(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Decrypts the gridhook in `body` (IV header looked up in `headers` when configured).
/// Returns the plaintext bytes.
pub fn open(cfg: &DeepCura, headers: &HeaderMap, body: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let env = &cfg.envelope;
    let needs_json = !env.data_field.is_empty() || env.iv_location == IvLocation::Field;
    let json: Option<Value> = if needs_json {
        match serde_json::from_slice::<Value>(body) {
            Ok(v @ Value::Object(_)) => Some(v),
            _ => return Err(EnvelopeError::NotJson),
        }
    } else {
        None
    };
    let member = |name: &str| json.as_ref().and_then(|j| j.get(name)?.as_str());
    let data_text = if env.data_field.is_empty() {
        std::str::from_utf8(body).map_err(|_| EnvelopeError::MissingData)?
    } else {
        member(&env.data_field).ok_or(EnvelopeError::MissingData)?
    };
    let mut ciphertext = decode(env.encoding, data_text, "ciphertext")?;
    let iv = match env.iv_location {
        IvLocation::Field => {
            let text = member(&env.iv_name).ok_or(EnvelopeError::MissingIv)?;
            decode(env.encoding, text, "IV")?
        }
        IvLocation::Header => {
            let text = headers
                .get(env.iv_name.as_str())
                .and_then(|v| v.to_str().ok())
                .ok_or(EnvelopeError::MissingIv)?;
            decode(env.encoding, text, "IV")?
        }
        IvLocation::Prefix => {
            if ciphertext.len() < IV_LEN {
                return Err(EnvelopeError::BadIvLength);
            }
            let rest = ciphertext.split_off(IV_LEN);
            std::mem::replace(&mut ciphertext, rest)
        }
    };
    if iv.len() != IV_LEN {
        return Err(EnvelopeError::BadIvLength);
    }
    if ciphertext.is_empty() || ciphertext.len() % IV_LEN != 0 {
        return Err(EnvelopeError::Decrypt);
    }
    let key = derive_key(cfg.shared_secret.expose());
    cbc::Decryptor::<Aes256>::new_from_slices(&key, &iv)
        .map_err(|_| EnvelopeError::BadIvLength)?
        .decrypt_padded_vec::<Pkcs7>(&ciphertext)
        .map_err(|_| EnvelopeError::Decrypt)
}

fn decode(encoding: Encoding, text: &str, what: &'static str) -> Result<Vec<u8>, EnvelopeError> {
    let text = text.trim();
    match encoding {
        Encoding::Base64 => STANDARD
            .decode(text)
            .map_err(|_| EnvelopeError::BadEncoding(what, "base64")),
        Encoding::Hex => hex::decode(text).map_err(|_| EnvelopeError::BadEncoding(what, "hex")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::secret::Secret;
    use crate::config::systems::Envelope;
    use cbc::cipher::BlockModeEncrypt;

    fn cfg(envelope: Envelope) -> DeepCura {
        DeepCura {
            shared_secret: Secret::new("k"),
            secret_header: "X-DeepCura-Secret".into(),
            cipher: Default::default(),
            key_derivation: Default::default(),
            envelope,
        }
    }

    fn seal(plain: &[u8], iv: [u8; 16]) -> Vec<u8> {
        cbc::Encryptor::<Aes256>::new_from_slices(&derive_key("k"), &iv)
            .unwrap()
            .encrypt_padded_vec::<Pkcs7>(plain)
    }

    #[test]
    fn the_default_envelope_is_a_json_body_with_base64_iv_and_data() {
        let iv = [7u8; 16];
        let body = serde_json::json!({"iv": STANDARD.encode(iv), "data": STANDARD.encode(seal(b"{\"a\":1}", iv))});
        let plain = open(
            &cfg(Envelope::default()),
            &HeaderMap::new(),
            body.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(plain, b"{\"a\":1}");
    }

    #[test]
    fn header_and_prefix_ivs_in_hex() {
        let iv = [9u8; 16];
        let ct = seal(b"note", iv);
        let header = Envelope {
            iv_location: IvLocation::Header,
            iv_name: "X-IV".into(),
            data_field: String::new(),
            encoding: Encoding::Hex,
        };
        let mut headers = HeaderMap::new();
        headers.insert("x-iv", hex::encode(iv).parse().unwrap());
        assert_eq!(
            open(&cfg(header), &headers, hex::encode(&ct).as_bytes()).unwrap(),
            b"note"
        );
        let prefix = Envelope {
            iv_location: IvLocation::Prefix,
            iv_name: String::new(),
            data_field: String::new(),
            encoding: Encoding::Hex,
        };
        let joined = [iv.as_slice(), &ct].concat();
        let c = cfg(prefix);
        assert_eq!(
            open(&c, &HeaderMap::new(), hex::encode(&joined).as_bytes()).unwrap(),
            b"note"
        );
        assert_eq!(
            open(&c, &HeaderMap::new(), b"00ff"),
            Err(EnvelopeError::BadIvLength)
        );
    }

    #[test]
    fn bad_envelopes_are_named() {
        let c = cfg(Envelope::default());
        let h = HeaderMap::new();
        let iv = STANDARD.encode([1u8; 16]);
        let ct = STANDARD.encode(seal(b"x", [1u8; 16]));
        let body = |v: Value| v.to_string().into_bytes();
        assert_eq!(open(&c, &h, b"nope"), Err(EnvelopeError::NotJson));
        let no_iv = body(serde_json::json!({"data": ct}));
        assert_eq!(open(&c, &h, &no_iv), Err(EnvelopeError::MissingIv));
        let short_iv = body(serde_json::json!({"iv": STANDARD.encode([1u8; 8]), "data": ct}));
        assert_eq!(open(&c, &h, &short_iv), Err(EnvelopeError::BadIvLength));
        let bad_b64 = body(serde_json::json!({"iv": iv, "data": "%%%"}));
        assert_eq!(
            open(&c, &h, &bad_b64),
            Err(EnvelopeError::BadEncoding("ciphertext", "base64"))
        );
        let mut other = cfg(Envelope::default());
        other.shared_secret = Secret::new("other");
        let good = body(serde_json::json!({"iv": iv, "data": ct}));
        assert_eq!(open(&other, &h, &good), Err(EnvelopeError::Decrypt));
    }
}
