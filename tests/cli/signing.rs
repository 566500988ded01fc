//! Signed report folders: `--sign` with a key made by Debian's `minisign -G -W`, checked by
//! `minisign -V` and by `verify --pubkey`; a changed manifest fails both, a changed output
//! fails verify (the manifest's sha256 no longer match). Without the `minisign` binary these
//! tests print SKIPPED loudly and pass; under scripts/test.sh (which installs it) they fail.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `minisign` binary, or None after a loud SKIPPED line (a failure when required).
fn minisign() -> Option<PathBuf> {
    let ok = Command::new("minisign")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success() || !o.stdout.is_empty());
    if ok {
        return Some(PathBuf::from("minisign"));
    }
    if std::env::var("GREENLEDGER_REQUIRE_SERVERS").as_deref() == Ok("1") {
        panic!("minisign is not installed but GREENLEDGER_REQUIRE_SERVERS=1: run scripts/test.sh (it installs Debian's minisign)");
    }
    super::loud("*** SKIPPED: the signing tests need Debian's minisign (run scripts/test.sh) ***");
    None
}

/// A key pair made by minisign itself, without a password: (secret, public).
fn keypair(bin: &Path, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (sk, pk) = (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.pub")),
    );
    let st = Command::new(bin)
        .args(["-G", "-W", "-p"])
        .arg(&pk)
        .arg("-s")
        .arg(&sk)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(st.status.success(), "{st:?}");
    (sk, pk)
}

/// `minisign -V` of a folder's manifest: (success, what it printed).
fn minisign_verifies(bin: &Path, pk: &Path, folder: &Path) -> (bool, String) {
    let o = Command::new(bin)
        .arg("-V")
        .arg("-p")
        .arg(pk)
        .arg("-m")
        .arg(folder.join("manifest.json"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    (o.status.success(), text)
}

/// `greenledger demo --sign KEY` into `out`.
fn signed_demo(sk: &Path, out: &Path) -> PathBuf {
    super::gl()
        .args(["demo", "--quiet", "--sign"])
        .arg(sk)
        .arg("--out")
        .arg(out)
        .assert()
        .code(0);
    out.to_path_buf()
}

fn verify(folder: &Path, pk: &Path) -> (i32, String) {
    let o = super::gl()
        .arg("verify")
        .arg(folder)
        .arg("--pubkey")
        .arg(pk)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).to_string(),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    for e in walk(from) {
        let rel = e.strip_prefix(from).unwrap();
        std::fs::create_dir_all(to.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(&e, to.join(rel)).unwrap();
    }
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_signed_demo_verifies_with_minisign_and_with_verify_and_a_changed_one_fails_both() {
    let Some(bin) = minisign() else { return };
    let t = tempfile::tempdir().unwrap();
    let (sk, pk) = keypair(&bin, t.path(), "lab");
    let signed = signed_demo(&sk, &t.path().join("signed"));
    let sig = std::fs::read_to_string(signed.join("manifest.json.minisig")).unwrap();
    // The recorded command names no key file.
    let manifest = super::read_json(&signed.join("manifest.json"));
    let command: Vec<&str> = manifest["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        command.windows(2).any(|w| w == ["--sign", "KEY"]),
        "{command:?}"
    );
    // minisign itself accepts it, and shows what the signature vouches for.
    let (ok, said) = minisign_verifies(&bin, &pk, &signed);
    assert!(ok, "{said}");
    assert!(said.contains("Trusted comment: greenledger report of Aurora Labs, period 2026-Q3, report.json sha256 "), "{said}");
    // verify checks it first, says who signed, then checks everything else.
    let (code, said) = verify(&signed, &pk);
    assert_eq!(code, 0, "{said}");
    let key_id = std::fs::read_to_string(&pk).unwrap();
    let key_id = key_id
        .lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    assert!(
        said.starts_with(&format!(
            "signed by key ID {key_id}: greenledger report of Aurora Labs"
        )),
        "{said}"
    );
    assert!(
        said.contains("every input, output and figure matches"),
        "{said}"
    );
    // The same inputs and key give the same signature, byte for byte.
    let again = signed_demo(&sk, &t.path().join("again"));
    assert_eq!(
        std::fs::read_to_string(again.join("manifest.json.minisig")).unwrap(),
        sig
    );

    // A changed manifest: both refuse it.
    let edited = t.path().join("edited-manifest");
    copy_dir(&signed, &edited);
    let m = std::fs::read_to_string(edited.join("manifest.json")).unwrap();
    std::fs::write(
        edited.join("manifest.json"),
        m.replacen("\"demo\"", "\"demo \"", 1),
    )
    .unwrap();
    let (ok, said) = minisign_verifies(&bin, &pk, &edited);
    assert!(!ok, "{said}");
    let (code, said) = verify(&edited, &pk);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("does not hold"), "{said}");
    assert!(said.contains("nothing else was checked"), "{said}");

    // A changed output: the manifest (and so its signature) still holds, which minisign shows;
    // the output's sha256 no longer matches the signed manifest, which verify shows.
    let output = t.path().join("edited-output");
    copy_dir(&signed, &output);
    let csv = std::fs::read_to_string(output.join("csv/teams.csv")).unwrap();
    std::fs::write(output.join("csv/teams.csv"), csv.replacen('1', "2", 1)).unwrap();
    assert!(minisign_verifies(&bin, &pk, &output).0);
    let (code, said) = verify(&output, &pk);
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains("output csv/teams.csv was modified after it was written"),
        "{said}"
    );

    // Another key's public half: refused.
    let (_, other) = keypair(&bin, t.path(), "other");
    assert!(!minisign_verifies(&bin, &other, &signed).0);
    let (code, said) = verify(&signed, &other);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("does not hold"), "{said}");

    // An unsigned folder checked with a key: not signed.
    let (_, plain) = super::demo_folder();
    let (code, said) = verify(&plain, &pk);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("the folder is not signed"), "{said}");
}

/// A report signed with a key the run cannot read stops before any work, with exit 2.
#[test]
fn a_bad_key_stops_the_run() {
    let t = tempfile::tempdir().unwrap();
    let key = t.path().join("k.key");
    let refused = |says: &str| {
        super::gl()
            .env_remove("GREENLEDGER_SIGN_PASSWORD")
            .args(["demo", "--quiet", "--sign"])
            .arg(&key)
            .arg("--out")
            .arg(t.path().join("o"))
            .assert()
            .code(2)
            .stderr(predicates::str::contains(says.to_string()));
    };
    std::fs::write(&key, "untrusted comment: x\nnot base64\n").unwrap();
    refused("not a minisign secret key");
    assert!(!t.path().join("o").exists());
    // An encrypted key without GREENLEDGER_SIGN_PASSWORD: it says so, and never prompts.
    let mut raw = vec![0u8; 158];
    raw[..2].copy_from_slice(b"Ed");
    raw[2..4].copy_from_slice(b"Sc");
    raw[4..6].copy_from_slice(b"B2");
    use base64::Engine as _;
    let enc = base64::engine::general_purpose::STANDARD.encode(&raw);
    std::fs::write(
        &key,
        format!("untrusted comment: minisign encrypted secret key\n{enc}\n"),
    )
    .unwrap();
    refused("GREENLEDGER_SIGN_PASSWORD");
}
