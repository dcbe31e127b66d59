//! The Deep Cura gridhook sender. Deep Cura's wire format is not public (apis.md §3); this
//! sender speaks the envelope the runner documents (README, "Deep Cura gridhook envelope"):
//! AES-256-CBC with PKCS#7 padding, key = SHA-256(shared secret), the shared secret in a
//! header, and by default a JSON body `{"iv": <base64>, "data": <base64>}`. The IV location
//! and encoding can be switched to the runner's other supported layouts. IVs come from a
//! seeded splitmix64, so runs are reproducible.

use aes::Aes256;
use axum::http::Method;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeEncrypt, KeyIvInit};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::request::WebhookRequest;
use crate::data::SplitMix64;

/// Where the IV goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IvPlacement {
    /// A member of the JSON body, by name.
    Field(String),
    /// A header, by name.
    Header(String),
    /// Before the ciphertext, in the same encoded string.
    Prefix,
}

/// Binary-to-text encoding of the IV and ciphertext.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TextEncoding {
    /// Standard base64 with padding.
    #[default]
    Base64,
    /// Lower-case hex.
    Hex,
}

/// The envelope layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Where the IV goes.
    pub iv: IvPlacement,
    /// JSON member holding the ciphertext; `None` sends the encoded ciphertext as the body.
    pub data_field: Option<String>,
    /// Encoding of IV and ciphertext.
    pub encoding: TextEncoding,
}

impl Default for Envelope {
    /// The runner's default: `{"iv": <base64>, "data": <base64>}`.
    fn default() -> Self {
        Envelope {
            iv: IvPlacement::Field("iv".into()),
            data_field: Some("data".into()),
            encoding: TextEncoding::Base64,
        }
    }
}

/// The AES-256 key: SHA-256 of the shared secret.
pub fn derive_key(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Sends gridhooks for one Deep Cura account.
#[derive(Debug, Clone)]
pub struct DeepCuraGridhooks {
    secret: String,
    secret_header: String,
    envelope: Envelope,
    path: String,
    rng: SplitMix64,
}

impl DeepCuraGridhooks {
    /// A sender with `secret` in `X-DeepCura-Secret`, the default envelope, posting to
    /// `/webhooks/deepcura`; `seed` drives the IVs.
    pub fn new(secret: impl Into<String>, seed: u64) -> Self {
        DeepCuraGridhooks {
            secret: secret.into(),
            secret_header: "X-DeepCura-Secret".into(),
            envelope: Envelope::default(),
            path: "/webhooks/deepcura".into(),
            rng: SplitMix64::new(seed),
        }
    }

    /// Uses another envelope layout.
    pub fn with_envelope(mut self, envelope: Envelope) -> Self {
        self.envelope = envelope;
        self
    }

    /// Sends the secret in `header` instead of `X-DeepCura-Secret`.
    pub fn with_secret_header(mut self, header: impl Into<String>) -> Self {
        self.secret_header = header.into();
        self
    }

    /// A gridhook carrying `note` (serialized to JSON), encrypted.
    pub fn send(&mut self, note: &Value) -> WebhookRequest {
        self.send_bytes(&serde_json::to_vec(note).expect("JSON serializes"))
    }

    /// A gridhook carrying any plaintext (for example one that is not JSON).
    pub fn send_bytes(&mut self, plaintext: &[u8]) -> WebhookRequest {
        let (iv, ct) = self.encrypt(plaintext);
        let enc = |b: &[u8]| match self.envelope.encoding {
            TextEncoding::Base64 => STANDARD.encode(b),
            TextEncoding::Hex => hex::encode(b),
        };
        let mut req = WebhookRequest::new(Method::POST, self.path.clone())
            .with_header(&self.secret_header, self.secret.clone());
        let data = match &self.envelope.iv {
            IvPlacement::Prefix => enc(&[iv.as_slice(), &ct].concat()),
            _ => enc(&ct),
        };
        let mut body = Map::new();
        match &self.envelope.iv {
            IvPlacement::Field(name) => {
                body.insert(name.clone(), json!(enc(&iv)));
            }
            IvPlacement::Header(name) => req = req.with_header(name, enc(&iv)),
            IvPlacement::Prefix => {}
        }
        match &self.envelope.data_field {
            Some(field) => {
                body.insert(field.clone(), json!(data));
                let bytes = serde_json::to_vec(&Value::Object(body)).expect("JSON serializes");
                req.with_header("content-type", "application/json")
                    .with_body(bytes)
            }
            None => req
                .with_header("content-type", "text/plain")
                .with_body(data.into_bytes()),
        }
    }

    /// Encrypts `plaintext` with a fresh IV; returns the IV and the ciphertext.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> ([u8; 16], Vec<u8>) {
        let mut iv = [0u8; 16];
        iv[..8].copy_from_slice(&self.rng.next_u64().to_le_bytes());
        iv[8..].copy_from_slice(&self.rng.next_u64().to_le_bytes());
        let ct = cbc::Encryptor::<Aes256>::new_from_slices(&derive_key(&self.secret), &iv)
            .expect("32-byte key and 16-byte IV")
            .encrypt_padded_vec::<Pkcs7>(plaintext);
        (iv, ct)
    }
}

/// A fictional Deep Cura note for a simulated DrChrono appointment, in the layout the
/// `deepcura_notes` pipeline assumes: note id (a v4-shaped uuid from `seed`), appointment and
/// patient ids, session date, SOAP sections (fictional text tagged `Zznote<seed>`), ICD-10 and
/// CPT codes, medications and `updated_at`.
pub fn note_for_appointment(appointment: &Value, seed: u64) -> Value {
    let mut rng = SplitMix64::new(seed);
    let appt_id = match &appointment["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let scheduled = appointment["scheduled_time"].as_str().unwrap_or_default();
    let session_date = scheduled.get(..10).unwrap_or("2024-01-01");
    let tag = format!("Zznote{seed}");
    let codes = ["F33.1", "F41.1", "F43.22", "F90.0", "F31.81"];
    let icd = codes[rng.below(codes.len() as u64) as usize];
    json!({
        "note_id": uuid_v4(&mut rng),
        "drchrono_appointment_id": appt_id,
        "drchrono_patient_id": appointment["patient"],
        "session_date": session_date,
        "soap": {
            "subjective": format!("{tag}: fictional patient reports steadier mood and sleep."),
            "objective": format!("{tag}: alert, oriented, euthymic affect (simulated)."),
            "assessment": format!("{tag}: condition improving (simulated)."),
            "plan": format!("{tag}: continue current plan; follow up in 4 weeks."),
        },
        "icd10_codes": [icd],
        "cpt_codes": ["99214", "90833"],
        "medications": [
            {"name": "Sertraline", "dose": "100 mg", "frequency": "once daily", "action": "continue"}
        ],
        "updated_at": format!("{session_date}T18:00:00Z"),
    })
}

/// A random (version 4, variant 1) uuid string from `rng`.
pub(super) fn uuid_v4(rng: &mut SplitMix64) -> String {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    b[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use cbc::cipher::BlockModeDecrypt;

    fn decrypt(secret: &str, iv: &[u8], ct: &[u8]) -> Vec<u8> {
        cbc::Decryptor::<Aes256>::new_from_slices(&derive_key(secret), iv)
            .unwrap()
            .decrypt_padded_vec::<Pkcs7>(ct)
            .unwrap()
    }

    #[test]
    fn the_default_envelope_round_trips() {
        let mut s = DeepCuraGridhooks::new("k", 3);
        let r = s.send(&json!({"a": 1}));
        assert_eq!(r.header("x-deepcura-secret"), Some("k"));
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let iv = STANDARD.decode(body["iv"].as_str().unwrap()).unwrap();
        let ct = STANDARD.decode(body["data"].as_str().unwrap()).unwrap();
        assert_eq!(decrypt("k", &iv, &ct), br#"{"a":1}"#);
        let again = s.send(&json!({"a": 1}));
        assert_ne!(again.body, r.body, "every gridhook gets a fresh IV");
    }

    #[test]
    fn prefix_and_header_layouts_in_hex() {
        let mut s = DeepCuraGridhooks::new("k", 3).with_envelope(Envelope {
            iv: IvPlacement::Prefix,
            data_field: None,
            encoding: TextEncoding::Hex,
        });
        let r = s.send_bytes(b"x");
        let raw = hex::decode(&r.body).unwrap();
        assert_eq!(decrypt("k", &raw[..16], &raw[16..]), b"x");
        let mut s = DeepCuraGridhooks::new("k", 3).with_envelope(Envelope {
            iv: IvPlacement::Header("X-IV".into()),
            data_field: Some("data".into()),
            encoding: TextEncoding::Base64,
        });
        let r = s.send_bytes(b"y");
        let iv = STANDARD.decode(r.header("x-iv").unwrap()).unwrap();
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let ct = STANDARD.decode(body["data"].as_str().unwrap()).unwrap();
        assert_eq!(decrypt("k", &iv, &ct), b"y");
    }

    #[test]
    fn notes_follow_the_assumed_layout() {
        let appt =
            json!({"id": "300000001", "patient": 1000001, "scheduled_time": "2024-03-05T10:00:00"});
        let n = note_for_appointment(&appt, 9);
        assert_eq!(n["drchrono_appointment_id"], "300000001");
        assert_eq!(n["drchrono_patient_id"], 1_000_001);
        assert_eq!(n["session_date"], "2024-03-05");
        let id = n["note_id"].as_str().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(n["soap"]["plan"].as_str().unwrap().starts_with("Zznote9"));
        assert_eq!(n, note_for_appointment(&appt, 9));
    }
}
