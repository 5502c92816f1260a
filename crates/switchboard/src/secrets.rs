//! Integration secrets (channel tokens, app secrets) are sealed with AES-256-GCM before they
//! reach the store, under a master key from `SWITCHBOARD_MASTER_KEY` (32 bytes, base64). Without
//! it, a key is generated once into `<data_dir>/master.key` (mode 0600) so that a laptop install
//! works out of the box; a deployment sets the variable and keeps the key out of the data.
//!
//! Sealed form: `[version = 1][12-byte random nonce][ciphertext + 16-byte tag]`.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use std::path::Path;

pub const MASTER_KEY_ENV: &str = "SWITCHBOARD_MASTER_KEY";
/// The key `switchboard secrets rotate` re-encrypts to (32 bytes, base64).
pub const NEW_MASTER_KEY_ENV: &str = "SWITCHBOARD_NEW_MASTER_KEY";
pub const KEY_FILE: &str = "master.key";
const VERSION: u8 = 1;

pub struct Sealer {
    cipher: Aes256Gcm,
    /// Signs access tokens: derived from the master key, so every instance that shares the
    /// key accepts every instance's tokens, and the master key itself signs nothing.
    token_key: [u8; 32],
    /// Signs web chat end users' tokens; a key of its own so that neither kind of token can
    /// pass for the other.
    chat_key: [u8; 32],
}

/// HMAC-SHA256 of `label` under the master key: a key for one purpose only.
fn derive(key: &[u8], label: &[u8]) -> anyhow::Result<[u8; 32]> {
    let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(key)
        .map_err(|e| anyhow!("invalid master key: {e}"))?;
    hmac::Mac::update(&mut mac, label);
    Ok(hmac::Mac::finalize(mac).into_bytes().into())
}

impl Sealer {
    pub fn from_key(key: &[u8]) -> anyhow::Result<Sealer> {
        if key.len() != 32 {
            bail!("the master key must be 32 bytes, not {}", key.len());
        }
        let cipher = Aes256Gcm::new_from_slice(key).map_err(|e| anyhow!("invalid master key: {e}"))?;
        Ok(Sealer {
            cipher,
            token_key: derive(key, b"switchboard access tokens v1")?,
            chat_key: derive(key, b"switchboard chat tokens v1")?,
        })
    }

    /// The key from the environment, or the data directory's key file (created if missing).
    pub fn load(data_dir: &Path) -> anyhow::Result<Sealer> {
        if let Ok(b64) = std::env::var(MASTER_KEY_ENV) {
            let key = B64
                .decode(b64.trim())
                .with_context(|| format!("{MASTER_KEY_ENV} is not base64"))?;
            return Sealer::from_key(&key).with_context(|| format!("{MASTER_KEY_ENV} is unusable"));
        }
        let path = data_dir.join(KEY_FILE);
        if !path.exists() {
            std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
            let key: [u8; 32] = rand::random();
            write_private(&path, B64.encode(key).as_bytes())?;
            tracing::warn!(path = %path.display(), "no {MASTER_KEY_ENV} set: generated a master key file; set the variable in production");
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let key = B64
            .decode(text.trim())
            .with_context(|| format!("{} is not base64", path.display()))?;
        Sealer::from_key(&key).with_context(|| format!("the key in {} is unusable", path.display()))
    }

    pub fn token_key(&self) -> &[u8; 32] {
        &self.token_key
    }

    pub fn chat_key(&self) -> &[u8; 32] {
        &self.chat_key
    }

    pub fn seal(&self, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        let nonce: [u8; 12] = rand::random();
        let ct = self
            .cipher
            .encrypt(&Nonce::from(nonce), plaintext)
            .map_err(|_| anyhow!("encryption failed"))?;
        let mut out = Vec::with_capacity(1 + 12 + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        let (&version, rest) = sealed.split_first().ok_or_else(|| anyhow!("sealed secret is empty"))?;
        if version != VERSION || rest.len() < 12 + 16 {
            bail!("sealed secret has an unknown format");
        }
        let (nonce, ct) = rest.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| anyhow!("bad nonce"))?;
        self.cipher
            .decrypt(&Nonce::from(nonce), ct)
            .map_err(|_| anyhow!("the secret cannot be decrypted with this master key"))
    }
}

/// Writes a new key file readable by its owner only; fails if `path` exists.
pub fn write_key_file(path: &Path, key: &[u8; 32]) -> anyhow::Result<()> {
    write_private(path, B64.encode(key).as_bytes())
}

/// A 32-byte key from its base64 text, saying which variable it came from when unusable.
pub fn decode_key(b64: &str, from: &str) -> anyhow::Result<[u8; 32]> {
    let key = B64
        .decode(b64.trim())
        .with_context(|| format!("{from} is not base64"))?;
    key.try_into()
        .map_err(|k: Vec<u8>| anyhow!("{from} must be 32 bytes, not {}", k.len()))
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_tamper_and_wrong_key() {
        let s = Sealer::from_key(&[7; 32]).expect("key");
        let sealed = s.seal(b"bot-token").expect("seal");
        assert_eq!(s.open(&sealed).expect("open"), b"bot-token");
        assert_ne!(s.seal(b"bot-token").expect("seal"), sealed, "a fresh nonce every time");
        assert!(!sealed.windows(9).any(|w| w == b"bot-token"), "not in clear");
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(s.open(&tampered).is_err());
        assert!(Sealer::from_key(&[8; 32]).expect("key").open(&sealed).is_err());
        assert!(s.open(&[]).is_err() && s.open(&[1, 2, 3]).is_err());
        assert!(Sealer::from_key(&[1; 16]).is_err());
    }

    #[test]
    fn a_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().expect("dir");
        let a = Sealer::load(dir.path()).expect("creates");
        let sealed = a.seal(b"x").expect("seal");
        let b = Sealer::load(dir.path()).expect("reuses");
        assert_eq!(b.open(&sealed).expect("same key"), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("master.key"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
