//! DrChrono webhook authentication: the `GET ?msg=` verification handshake and the
//! `X-drchrono-signature` check, in constant time, in the mode `systems.yaml` configures.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::config::systems::{DrChronoWebhooks, SignatureMode};

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    <HmacSha256 as KeyInit>::new_from_slice(secret).expect("HMAC accepts any key length")
}

/// The handshake answer: hex HMAC-SHA256 of `msg`, keyed with the webhook secret.
pub fn handshake_token(secret: &str, msg: &str) -> String {
    let mut m = mac(secret.as_bytes());
    m.update(msg.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// Whether `header` (the `X-drchrono-signature` value, if any) authenticates `body`:
/// `shared_secret` compares it with the secret, `hmac_sha256` with the hex HMAC-SHA256 of the
/// raw body, `either` accepts both. Every comparison is constant-time; an empty secret
/// accepts nothing.
pub fn verify_signature(cfg: &DrChronoWebhooks, header: Option<&[u8]>, body: &[u8]) -> bool {
    let secret = cfg.secret.expose().as_bytes();
    let Some(header) = header else {
        return false;
    };
    if secret.is_empty() || header.is_empty() {
        return false;
    }
    let shared = || bool::from(header.ct_eq(secret));
    let hmac = || {
        hex::decode(header.trim_ascii()).is_ok_and(|tag| {
            let mut m = mac(secret);
            m.update(body);
            m.verify_slice(&tag).is_ok()
        })
    };
    match cfg.signature {
        SignatureMode::SharedSecret => shared(),
        SignatureMode::HmacSha256 => hmac(),
        // Both checks run, so timing does not tell which form was tried.
        SignatureMode::Either => shared() | hmac(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::secret::Secret;

    fn cfg(mode: SignatureMode) -> DrChronoWebhooks {
        DrChronoWebhooks {
            secret: Secret::new("s3cret"),
            signature: mode,
            handshake: true,
        }
    }

    #[test]
    fn the_handshake_matches_the_documented_python_example() {
        // hmac.new(b"s3cret", b"hello", hashlib.sha256).hexdigest()
        assert_eq!(
            handshake_token("s3cret", "hello"),
            "e5a01537481fa0b2c697f787c7aff885412cf0760d08e08502259b39d2d6ae68"
        );
    }

    #[test]
    fn each_mode_accepts_its_form_and_rejects_the_rest() {
        let body = br#"{"object":{}}"#;
        let good_hmac = {
            let mut m = mac(b"s3cret");
            m.update(body);
            hex::encode(m.finalize().into_bytes())
        };
        let shared = cfg(SignatureMode::SharedSecret);
        let hmac = cfg(SignatureMode::HmacSha256);
        let either = cfg(SignatureMode::Either);
        assert!(verify_signature(&shared, Some(b"s3cret"), body));
        assert!(!verify_signature(&shared, Some(good_hmac.as_bytes()), body));
        assert!(verify_signature(&hmac, Some(good_hmac.as_bytes()), body));
        assert!(verify_signature(
            &hmac,
            Some(good_hmac.to_uppercase().as_bytes()),
            body
        ));
        assert!(!verify_signature(&hmac, Some(b"s3cret"), body));
        assert!(!verify_signature(
            &hmac,
            Some(&good_hmac.as_bytes()[..62]),
            body
        ));
        assert!(!verify_signature(&hmac, Some(good_hmac.as_bytes()), b"{}"));
        assert!(verify_signature(&either, Some(b"s3cret"), body));
        assert!(verify_signature(&either, Some(good_hmac.as_bytes()), body));
        for m in [&shared, &hmac, &either] {
            assert!(!verify_signature(m, None, body));
            assert!(!verify_signature(m, Some(b""), body));
            assert!(!verify_signature(m, Some(b"s3cre"), body));
        }
    }
}
