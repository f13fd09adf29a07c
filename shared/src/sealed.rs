//! Sealing what we must never hold in clear (bank details): envelope encryption. KMS makes a
//! fresh AES-256 data key for each value (`GenerateDataKey`, bound to an encryption context
//! such as the merchant's id); the value is encrypted here with AES-256-GCM under it and only
//! the KMS-encrypted copy of the key is kept beside it. Opening asks KMS to decrypt that key
//! with the same context: a sealed value moved to another merchant's record does not open, and
//! nothing opens without the key policy's consent. The plain data key is wiped after use.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use zeroize::Zeroize;

/// A sealed value: the data key as KMS encrypted it, the nonce and the ciphertext (with its
/// tag). None of it is secret without KMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub encrypted_key: Vec<u8>,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// The encryption context: who the value belongs to, bound to its key and to its ciphertext.
pub type Context<'a> = &'a [(&'a str, &'a str)];

/// The context as associated data: its pairs sorted and written as JSON, so no value can run
/// into another (a value holding `&` or `=` reads as itself).
fn aad(context: Context<'_>) -> Vec<u8> {
    let mut pairs: Vec<_> = context.to_vec();
    pairs.sort();
    serde_json::to_vec(&pairs).unwrap_or_default()
}

fn kms_context(context: Context<'_>) -> std::collections::HashMap<String, String> {
    context
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Seals `plain` under a new data key of `key_id` (a key id, ARN or alias).
pub async fn seal(
    kms: &aws_sdk_kms::Client,
    key_id: &str,
    context: Context<'_>,
    plain: &[u8],
) -> Result<Sealed, String> {
    let made = kms
        .generate_data_key()
        .key_id(key_id)
        .key_spec(DataKeySpec::Aes256)
        .set_encryption_context(Some(kms_context(context)))
        .send()
        .await
        .map_err(|e| {
            format!(
                "KMS GenerateDataKey: {}",
                aws_sdk_kms::error::DisplayErrorContext(&e)
            )
        })?;
    let mut key = made
        .plaintext()
        .map(|b| b.as_ref().to_vec())
        .ok_or("KMS gave no data key")?;
    let encrypted_key = made
        .ciphertext_blob()
        .map(|b| b.as_ref().to_vec())
        .ok_or("KMS gave no encrypted data key")?;
    let nonce: [u8; 12] = crate::ids::random_bytes::<12>();
    let sealed = Aes256Gcm::new_from_slice(&key)
        .map_err(|_| "KMS's data key is not 256 bits".to_string())
        .and_then(|cipher| {
            cipher
                .encrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: plain,
                        aad: &aad(context),
                    },
                )
                .map_err(|_| "sealing failed".to_string())
        });
    key.zeroize();
    Ok(Sealed {
        encrypted_key,
        nonce: nonce.to_vec(),
        ciphertext: sealed?,
    })
}

/// Opens a sealed value with the context it was sealed with.
pub async fn open(
    kms: &aws_sdk_kms::Client,
    context: Context<'_>,
    sealed: &Sealed,
) -> Result<Vec<u8>, String> {
    let out = kms
        .decrypt()
        .ciphertext_blob(Blob::new(sealed.encrypted_key.clone()))
        .set_encryption_context(Some(kms_context(context)))
        .send()
        .await
        .map_err(|e| {
            format!(
                "KMS Decrypt: {}",
                aws_sdk_kms::error::DisplayErrorContext(&e)
            )
        })?;
    let mut key = out
        .plaintext()
        .map(|b| b.as_ref().to_vec())
        .ok_or("KMS gave no data key")?;
    if sealed.nonce.len() != 12 {
        key.zeroize();
        return Err("a sealed value with a bad nonce".into());
    }
    let opened = Aes256Gcm::new_from_slice(&key)
        .map_err(|_| "the data key is not 256 bits".to_string())
        .and_then(|cipher| {
            cipher
                .decrypt(
                    Nonce::from_slice(&sealed.nonce),
                    Payload {
                        msg: &sealed.ciphertext,
                        aad: &aad(context),
                    },
                )
                .map_err(|_| "the sealed value does not open with this context".to_string())
        });
    key.zeroize();
    opened
}
