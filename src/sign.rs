//! Signing a report folder: `manifest.json.minisig`, a signature of manifest.json in minisign's
//! format (checkable with `minisign -V`), and its check by `verify --pubkey`. The manifest lists
//! every output's sha256, so one signature covers the folder. Ed25519 signatures are
//! deterministic (RFC 8032), so the same inputs and key give the same signature file.

use crate::error::{Error, Result};
use crate::render::Rendered;
use crate::report::Report;
use base64::Engine as _;
use blake2::{Blake2b512, Digest};
use std::path::Path;

/// The signature's file name, beside manifest.json (where `minisign -V -m manifest.json`
/// looks for it).
pub(crate) const FILE: &str = "manifest.json.minisig";

/// The environment variable holding the password of an encrypted secret key.
const PASSWORD_VAR: &str = "GREENLEDGER_SIGN_PASSWORD";

/// A minisign secret key, decrypted: its key number and its Ed25519 key pair.
pub(crate) struct Signer {
    keynum: [u8; 8],
    pair: ring::signature::Ed25519KeyPair,
}

/// The key ID as minisign prints it in its key files (the key number, a little-endian u64, in
/// upper-case hex without leading zeros).
fn key_id(keynum: &[u8]) -> String {
    let mut b = [0u8; 8];
    b.copy_from_slice(&keynum[..8]);
    format!("{:X}", u64::from_le_bytes(b))
}

impl Signer {
    /// Read a minisign secret key file (`minisign -G`): unencrypted (`-W`), or encrypted with the
    /// password in `GREENLEDGER_SIGN_PASSWORD`. Never prompts.
    pub(crate) fn load(path: &Path) -> Result<Signer> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(&shown, "read the secret key", e))?;
        let bad = |why: String| {
            Error::in_file(&shown, why)
                .hint("give a minisign secret key (minisign -G writes one; -W for no password)")
        };
        let raw = text
            .lines()
            .nth(1)
            .and_then(|l| {
                base64::engine::general_purpose::STANDARD
                    .decode(l.trim())
                    .ok()
            })
            .filter(|b| b.len() == 158 && &b[..2] == b"Ed")
            .ok_or_else(|| bad("not a minisign secret key".into()))?;
        // An unencrypted key (`minisign -G -W`) is read as it is: minisign writes its checksum
        // as zeros, which the crate takes for corruption; the key pair's consistency is checked
        // below instead. An encrypted one is decrypted by the crate (scrypt).
        let raw = if raw[2..4] == [0, 0] {
            raw
        } else {
            let password = std::env::var(PASSWORD_VAR).map_err(|_| {
                Error::in_file(&shown, "the secret key is encrypted").hint(format!(
                    "set {PASSWORD_VAR} to its password (greenledger never prompts)"
                ))
            })?;
            minisign::SecretKeyBox::from_string(&text)
                .and_then(|b| b.into_secret_key(Some(password)))
                .map_err(|e| bad(e.to_string()))?
                .to_bytes()
        };
        // The layout: algorithm, KDF and checksum tags (2 + 2 + 2), KDF salt (32), limits
        // (8 + 8), then the key number (8) and the Ed25519 secret key (seed 32, public key 32).
        let at = 2 + 2 + 2 + 32 + 8 + 8;
        let (keynum, sk) = (&raw[at..at + 8], &raw[at + 8..at + 72]);
        let pair = ring::signature::Ed25519KeyPair::from_seed_and_public_key(&sk[..32], &sk[32..])
            .map_err(|_| bad("its Ed25519 key pair is inconsistent (a wrong password?)".into()))?;
        let mut k = [0u8; 8];
        k.copy_from_slice(keynum);
        Ok(Signer { keynum: k, pair })
    }

    /// The signature file of `data`, prehashed (BLAKE2b-512) as minisign signs by default, with
    /// `trusted` as its signed comment.
    pub(crate) fn sign(&self, data: &[u8], trusted: &str) -> Vec<u8> {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let hash = Blake2b512::digest(data);
        let sig = self.pair.sign(&hash);
        let mut first = b"ED".to_vec();
        first.extend(self.keynum);
        first.extend(sig.as_ref());
        let mut signed_comment = sig.as_ref().to_vec();
        signed_comment.extend(trusted.as_bytes());
        let global = self.pair.sign(&signed_comment);
        format!(
            "untrusted comment: greenledger signature of manifest.json, key ID {}\n{}\ntrusted comment: {trusted}\n{}\n",
            key_id(&self.keynum),
            b64(&first),
            b64(global.as_ref())
        )
        .into_bytes()
    }

    /// Sign the folder's manifest.json (already among `files`) and add the signature file. The
    /// trusted comment names the organisation, the period and report.json's sha256.
    pub(crate) fn sign_folder(&self, files: &mut Rendered, report: &Report) -> Result<()> {
        let sha = |name: &str| {
            files
                .iter()
                .find(|(p, _)| p == name)
                .map(|(_, b)| format!("{:x}", sha2::Sha256::digest(b)))
        };
        let manifest = files
            .iter()
            .find(|(p, _)| p == "manifest.json")
            .map(|(_, b)| b.clone())
            .ok_or_else(|| Error::new("internal error: no manifest.json to sign"))?;
        let one_line = |s: &str| s.replace(['\n', '\r'], " ");
        let trusted = format!(
            "greenledger report of {}, period {}, report.json sha256 {}",
            if report.organization.is_empty() {
                "(no organisation named)".to_string()
            } else {
                one_line(&report.organization)
            },
            one_line(&report.period.label),
            sha("report.json").unwrap_or_else(|| "(not written)".into())
        );
        files.push((FILE.to_string(), self.sign(&manifest, &trusted)));
        Ok(())
    }
}

/// Who signed a folder: the key ID and the signed comment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Signed {
    pub key_id: String,
    pub trusted_comment: String,
}

/// Check `dir`'s manifest.json against its signature with the public key at `pubkey` (a
/// minisign public key file). `Err` says why the folder's signature does not hold.
pub(crate) fn check(dir: &Path, pubkey: &Path) -> Result<std::result::Result<Signed, String>> {
    let shown = pubkey.display().to_string();
    let text =
        std::fs::read_to_string(pubkey).map_err(|e| Error::io(&shown, "read the public key", e))?;
    let pk = minisign::PublicKeyBox::from_string(&text)
        .and_then(|b| b.into_public_key())
        .map_err(|e| {
            Error::in_file(&shown, format!("not a minisign public key ({e})"))
                .hint("give the .pub file minisign -G wrote beside the secret key")
        })?;
    let Ok(sig_text) = std::fs::read_to_string(dir.join(FILE)) else {
        return Ok(Err(format!("{FILE} is missing: the folder is not signed")));
    };
    let Ok(manifest) = std::fs::read(dir.join("manifest.json")) else {
        return Ok(Err("manifest.json is missing".into()));
    };
    let sig = match minisign::SignatureBox::from_string(&sig_text) {
        Ok(s) => s,
        Err(e) => return Ok(Err(format!("{FILE} is not a minisign signature ({e})"))),
    };
    let signer = key_id(sig.keynum());
    match minisign::verify(
        &pk,
        &sig,
        std::io::Cursor::new(&manifest),
        true,
        false,
        false,
    ) {
        Ok(()) => Ok(Ok(Signed {
            key_id: signer,
            trusted_comment: sig.trusted_comment().unwrap_or_default(),
        })),
        Err(e) => Ok(Err(format!(
            "the signature of manifest.json does not hold with {shown}: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key made with the minisign crate (unencrypted), signed with ours, checked with the
    /// crate's own verification; the same data and key give the same bytes.
    #[test]
    fn our_signatures_verify_with_minisign_and_are_deterministic() {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        // (The crate writes a real checksum; minisign's -W writes zeros: both are read.)
        let sk_text = kp.sk.to_box(None).unwrap().into_string();
        let pk_text = kp.pk.to_box().unwrap().into_string();
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("k.key"), sk_text).unwrap();
        std::fs::write(d.path().join("k.pub"), pk_text).unwrap();
        let s = Signer::load(&d.path().join("k.key")).unwrap();
        let data = b"{\"schema\":\"x\"}";
        let a = s.sign(data, "greenledger report of Lab, period 2026-Q3");
        assert_eq!(a, s.sign(data, "greenledger report of Lab, period 2026-Q3"));
        std::fs::write(d.path().join("manifest.json"), data).unwrap();
        std::fs::write(d.path().join(FILE), &a).unwrap();
        let ok = check(d.path(), &d.path().join("k.pub")).unwrap().unwrap();
        assert_eq!(
            ok.trusted_comment,
            "greenledger report of Lab, period 2026-Q3"
        );
        assert_eq!(ok.key_id, key_id(&s.keynum));
        // One byte of the manifest changed: the signature no longer holds.
        std::fs::write(d.path().join("manifest.json"), b"{\"schema\":\"y\"}").unwrap();
        let bad = check(d.path(), &d.path().join("k.pub"))
            .unwrap()
            .unwrap_err();
        assert!(bad.contains("does not hold"), "{bad}");
        // A folder without a signature.
        std::fs::remove_file(d.path().join(FILE)).unwrap();
        let none = check(d.path(), &d.path().join("k.pub"))
            .unwrap()
            .unwrap_err();
        assert!(none.contains("not signed"));
    }

    /// As minisign writes it: no leading zero (a key number whose top byte is 0 has 15 digits).
    #[test]
    fn key_ids_as_minisign_prints_them() {
        let k = [0x26, 0x4C, 0x19, 0xFD, 0x8C, 0xE7, 0x72, 0x05];
        assert_eq!(key_id(&k), "572E78CFD194C26");
        let k = [0x26, 0x4C, 0x19, 0xFD, 0x8C, 0xE7, 0x72, 0xF5];
        assert_eq!(key_id(&k), "F572E78CFD194C26");
    }

    #[test]
    fn other_files_are_not_keys() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("k.key"), "hello\nworld\n").unwrap();
        let e = Signer::load(&d.path().join("k.key")).err().unwrap();
        assert!(e.to_string().contains("not a minisign secret key"), "{e}");
    }
}
