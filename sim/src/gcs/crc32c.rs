//! CRC32C (Castagnoli), the checksum Cloud Storage reports for every object: table-driven,
//! reflected polynomial `0x82F63B78`, initial value and final XOR `0xFFFFFFFF` (RFC 3720
//! Appendix B.4, RFC 4960 Appendix B).

use base64::Engine as _;

/// The reflected Castagnoli polynomial.
const POLY: u32 = 0x82F6_3B78;

/// One entry per byte value: the register after shifting that byte through.
const TABLE: [u32; 256] = table();

const fn table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// The CRC32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    extend(0, data)
}

/// Continues `crc` (the CRC32C of the bytes so far; 0 for none) over `data`, so
/// `extend(crc32c(a), b) == crc32c(a ++ b)`.
pub fn extend(crc: u32, data: &[u8]) -> u32 {
    let mut reg = !crc;
    for &byte in data {
        reg = TABLE[((reg ^ u32::from(byte)) & 0xFF) as usize] ^ (reg >> 8);
    }
    !reg
}

/// `crc` as Cloud Storage writes it: base64 of its four big-endian bytes.
pub fn to_base64(crc: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes())
}

/// Parses Cloud Storage's base64 form back to the number (`None` unless it is 4 bytes).
pub fn from_base64(text: &str) -> Option<u32> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_value_of_the_catalogue() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn rfc_3720_vectors() {
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
        let ascending: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c(&ascending), 0x46DD_794E);
        let descending: Vec<u8> = (0u8..32).rev().collect();
        assert_eq!(crc32c(&descending), 0x113F_DB5C);
    }

    #[test]
    fn empty_input_is_zero() {
        assert_eq!(crc32c(b""), 0);
        assert_eq!(to_base64(0), "AAAAAA==");
    }

    #[test]
    fn extending_equals_hashing_the_concatenation() {
        let data = b"The quick brown fox jumps over the lazy dog";
        for split in 0..data.len() {
            let (a, b) = data.split_at(split);
            assert_eq!(extend(crc32c(a), b), crc32c(data));
        }
    }

    #[test]
    fn base64_is_big_endian_and_round_trips() {
        let crc = 0xE306_9283;
        assert_eq!(to_base64(crc), "4waSgw==");
        assert_eq!(from_base64("4waSgw=="), Some(crc));
        assert_eq!(from_base64("AAAA"), None);
        assert_eq!(from_base64("not base64!"), None);
    }
}
