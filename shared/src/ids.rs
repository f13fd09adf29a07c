//! Identifiers: invoice ids that route to their number's partition, payment ids derived from
//! the store's transaction id, and secrets (API keys, sheet tokens) kept only as hashes.

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::number::SmartPitNumber;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Lower-case Crockford base32, no padding.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Inverse of [`base32`] for exactly `len` bytes; `None` on any stray character.
pub fn base32_decode(s: &str, len: usize) -> Option<Vec<u8>> {
    if s.len() != (len * 8).div_ceil(5) {
        return None;
    }
    let mut out = Vec::with_capacity(len);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    // Leftover bits must be zero padding, so every id has one spelling.
    (acc & ((1 << bits) - 1) == 0).then_some(out)
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

/// An invoice id: `inv_` + base32(number as 6 bytes ++ 10 random bytes). The number inside
/// lets every read go straight to the number's partition in one strongly consistent call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InvoiceId {
    text: String,
    number: SmartPitNumber,
}

impl InvoiceId {
    pub fn new(number: SmartPitNumber) -> Self {
        let mut raw = [0u8; 16];
        raw[..6].copy_from_slice(&number.as_u64().to_be_bytes()[2..]);
        raw[6..].copy_from_slice(&random_bytes::<10>());
        InvoiceId {
            text: format!("inv_{}", base32(&raw)),
            number,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let raw = base32_decode(s.strip_prefix("inv_")?, 16)?;
        let mut n = [0u8; 8];
        n[2..].copy_from_slice(&raw[..6]);
        let number = SmartPitNumber::from_u64(u64::from_be_bytes(n)).ok()?;
        Some(InvoiceId {
            text: s.to_string(),
            number,
        })
    }

    pub fn number(&self) -> SmartPitNumber {
        self.number
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for InvoiceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A payment's id follows from the chain and the store's own transaction id, so a retried
/// report lands on the same record.
pub fn payment_id(chain_id: &str, store_transaction_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(chain_id.as_bytes())
        .chain_update([0u8])
        .chain_update(store_transaction_id.as_bytes())
        .finalize();
    format!("pay_{}", base32(&digest[..16]))
}

/// Hex SHA-256, for secrets we must recognise but never store (API keys, sheet tokens).
pub fn sha256_hex(s: &str) -> String {
    sha256_hex_bytes(s.as_bytes())
}

/// Hex SHA-256 of bytes (an uploaded file's id).
pub fn sha256_hex_bytes(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new secret with a readable prefix and 160 random bits.
pub fn new_secret(prefix: &str) -> String {
    format!("{prefix}_{}", base32(&random_bytes::<20>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_round_trips() {
        for len in [1usize, 5, 10, 16, 20] {
            let b: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(base32_decode(&base32(&b), len), Some(b));
        }
        assert_eq!(base32_decode("zz", 1), None);
        assert_eq!(base32_decode("0u", 1), None);
    }

    #[test]
    fn invoice_id_carries_its_number() {
        let n = SmartPitNumber::parse("4901234567894").unwrap();
        let id = InvoiceId::new(n);
        assert!(id.as_str().starts_with("inv_"));
        assert_eq!(id.as_str().len(), 30);
        assert_eq!(InvoiceId::parse(id.as_str()).map(|i| i.number()), Some(n));
        assert_ne!(InvoiceId::new(n), id);
        assert_eq!(InvoiceId::parse("inv_000"), None);
        assert_eq!(InvoiceId::parse("pay_00000000000000000000000000"), None);
        // 16 zero bytes name number 0000000000000, whose check digit 0 is valid: still
        // well-formed, only unknown. A bad check digit inside is refused.
        let mut raw = [0u8; 16];
        raw[5] = 1;
        assert_eq!(InvoiceId::parse(&format!("inv_{}", base32(&raw))), None);
    }

    #[test]
    fn payment_id_is_stable_and_scoped_by_chain() {
        assert_eq!(payment_id("lawson", "T1"), payment_id("lawson", "T1"));
        assert_ne!(payment_id("lawson", "T1"), payment_id("ministop", "T1"));
        assert_ne!(payment_id("lawson", "T1"), payment_id("lawson", "T2"));
    }
}
