#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The personal tier's public API: round trips, binding to the place a value
//! belongs, tampering, wrong keys, truncation, key encodings and redaction.

use clavitor_crypto::personal::{
    self, BLOB_VERSION, ENC_LEN, INFO_LABEL, MAX_ID_LEN, OVERHEAD, PersonalContext, PersonalError,
    PersonalPrivateKey, PersonalPublicKey,
};

fn ctx<'a>(vault: &'a str, entry: &'a str, field: &'a str, revision: u64) -> PersonalContext<'a> {
    PersonalContext::new(vault, entry, field, revision)
}

fn keypair() -> (PersonalPrivateKey, PersonalPublicKey) {
    PersonalPrivateKey::generate().unwrap()
}

fn hex(text: &str) -> Vec<u8> {
    data_encoding::HEXLOWER_PERMISSIVE
        .decode(text.as_bytes())
        .unwrap()
}

#[test]
fn round_trip() {
    let (sk, pk) = keypair();
    let c = ctx("vault-1", "entry-A", "field-1", 7);
    for plaintext in [&b""[..], b"x", b"canary-personal-secret", &[0u8; 4096]] {
        let blob = personal::seal(&pk, &c, plaintext).unwrap();
        assert_eq!(blob.len(), OVERHEAD + plaintext.len());
        assert_eq!(blob[0], BLOB_VERSION);
        assert_eq!(blob[1], 0x04, "enc is an uncompressed point");
        assert_eq!(
            personal::open(&sk, &c, &blob).unwrap().as_slice(),
            plaintext
        );
    }
}

#[test]
fn sealing_twice_gives_different_blobs() {
    let (sk, pk) = keypair();
    let c = ctx("v", "e", "f", 1);
    let a = personal::seal(&pk, &c, b"same").unwrap();
    let b = personal::seal(&pk, &c, b"same").unwrap();
    assert_ne!(
        a[1..1 + ENC_LEN],
        b[1..1 + ENC_LEN],
        "fresh ephemeral key each time"
    );
    assert_ne!(a, b);
    assert_eq!(personal::open(&sk, &c, &a).unwrap().as_slice(), b"same");
    assert_eq!(personal::open(&sk, &c, &b).unwrap().as_slice(), b"same");
}

#[test]
fn a_blob_only_opens_where_it_was_sealed() {
    let (sk, pk) = keypair();
    let here = ctx("vault-1", "entry-A", "field-1", 7);
    let blob = personal::seal(&pk, &here, b"secret").unwrap();
    assert!(personal::open(&sk, &here, &blob).is_ok());
    for elsewhere in [
        ctx("vault-1", "entry-B", "field-1", 7),
        ctx("vault-1", "entry-A", "field-2", 7),
        ctx("vault-1", "entry-A", "field-1", 8),
        ctx("vault-1", "entry-A", "field-1", 6),
        ctx("vault-2", "entry-A", "field-1", 7),
        ctx("vault-1", "entry-A", "field-1", u64::MAX),
        // Same characters, split differently between ids.
        ctx("vault-1entry-A", "", "field-1", 7),
        ctx("vault-1", "entry-Afield-1", "", 7),
    ] {
        assert_eq!(
            personal::open(&sk, &elsewhere, &blob),
            Err(PersonalError::Open),
            "{elsewhere:?}"
        );
    }
}

#[test]
fn info_is_unambiguous_and_documented() {
    // The example in the module docs.
    let mut expected = INFO_LABEL.to_vec();
    expected.extend_from_slice(&[0, 1, b'v', 0, 2, b'e', b'1', 0, 1, b'f']);
    expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 2]);
    assert_eq!(ctx("v", "e1", "f", 258).info(), expected);
    assert_eq!(INFO_LABEL, b"clavitor/personal/v1");

    let infos = [
        ctx("ab", "c", "d", 1).info(),
        ctx("a", "bc", "d", 1).info(),
        ctx("a", "b", "cd", 1).info(),
        ctx("a\0", "b", "c", 1).info(),
        ctx("a", "\0b", "c", 1).info(),
        ctx("a", "b", "c", 256).info(),
        ctx("a", "b", "c", 1).info(),
    ];
    for (i, a) in infos.iter().enumerate() {
        for b in &infos[i + 1..] {
            assert_ne!(a, b);
        }
    }
    // Lengths count UTF-8 bytes.
    let info = ctx("Ω", "", "", 0).info();
    assert_eq!(
        &info[INFO_LABEL.len()..INFO_LABEL.len() + 4],
        &[0, 2, 0xce, 0xa9]
    );
}

#[test]
fn flipping_any_bit_of_any_byte_fails() {
    let (sk, pk) = keypair();
    let c = ctx("v", "e", "f", 3);
    let blob = personal::seal(&pk, &c, b"value").unwrap();
    for i in 0..blob.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = blob.clone();
            bad[i] ^= bit;
            assert_eq!(
                personal::open(&sk, &c, &bad),
                Err(PersonalError::Open),
                "byte {i}"
            );
        }
    }
    let mut longer = blob.clone();
    longer.push(0);
    assert_eq!(personal::open(&sk, &c, &longer), Err(PersonalError::Open));
}

#[test]
fn other_version_bytes_fail() {
    let (sk, pk) = keypair();
    let c = ctx("v", "e", "f", 3);
    let blob = personal::seal(&pk, &c, b"value").unwrap();
    for version in [0u8, 2, 0x04, 0xff] {
        let mut bad = blob.clone();
        bad[0] = version;
        assert_eq!(personal::open(&sk, &c, &bad), Err(PersonalError::Open));
    }
}

#[test]
fn a_wrong_private_key_fails() {
    let (_, pk) = keypair();
    let (other_sk, _) = keypair();
    let c = ctx("v", "e", "f", 3);
    let blob = personal::seal(&pk, &c, b"value").unwrap();
    assert_eq!(
        personal::open(&other_sk, &c, &blob),
        Err(PersonalError::Open)
    );
}

#[test]
fn truncated_and_garbage_blobs_fail_without_panicking() {
    let (sk, pk) = keypair();
    let c = ctx("v", "e", "f", 3);
    let blob = personal::seal(&pk, &c, b"some value").unwrap();
    for n in 0..blob.len() {
        assert_eq!(
            personal::open(&sk, &c, &blob[..n]),
            Err(PersonalError::Open),
            "len {n}"
        );
    }
    // enc not on the curve, enc the point at infinity, enc compressed.
    let mut not_on_curve = blob.clone();
    not_on_curve[1 + ENC_LEN - 1] ^= 0x01;
    assert_eq!(
        personal::open(&sk, &c, &not_on_curve),
        Err(PersonalError::Open)
    );
    let mut zeros = vec![BLOB_VERSION];
    zeros.extend_from_slice(&[0u8; ENC_LEN + 16]);
    assert_eq!(personal::open(&sk, &c, &zeros), Err(PersonalError::Open));
    let mut compressed = blob.clone();
    compressed[1] = 0x02;
    assert_eq!(
        personal::open(&sk, &c, &compressed),
        Err(PersonalError::Open)
    );
    for len in [0usize, 1, 81, 82, 200] {
        let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        assert_eq!(personal::open(&sk, &c, &junk), Err(PersonalError::Open));
    }
}

#[test]
fn over_long_ids_are_refused() {
    let (sk, pk) = keypair();
    let ok = "x".repeat(MAX_ID_LEN);
    let too_long = "x".repeat(MAX_ID_LEN + 1);
    let fine = ctx(&ok, &ok, &ok, 1);
    let blob = personal::seal(&pk, &fine, b"v").unwrap();
    assert_eq!(personal::open(&sk, &fine, &blob).unwrap().as_slice(), b"v");
    for bad in [
        ctx(&too_long, "e", "f", 1),
        ctx("v", &too_long, "f", 1),
        ctx("v", "e", &too_long, 1),
    ] {
        assert_eq!(
            personal::seal(&pk, &bad, b"v"),
            Err(PersonalError::InvalidContext)
        );
        assert_eq!(personal::open(&sk, &bad, &blob), Err(PersonalError::Open));
    }
    // Far beyond what HPKE's info can hold: still an error, not a panic.
    let huge = "x".repeat(70_000);
    assert_eq!(
        personal::seal(&pk, &ctx(&huge, "e", "f", 1), b"v"),
        Err(PersonalError::InvalidContext)
    );
}

#[test]
fn private_key_debug_shows_no_key_material() {
    let (sk, _) = keypair();
    let bytes = sk.to_bytes();
    let shown = format!("{sk:?} {sk:#?}");
    assert!(shown.contains("[REDACTED]"), "{shown}");
    let hex = data_encoding::HEXLOWER.encode(bytes.as_slice());
    let hex_upper = data_encoding::HEXUPPER.encode(bytes.as_slice());
    let b64 = data_encoding::BASE64URL_NOPAD.encode(bytes.as_slice());
    let b64_std = data_encoding::BASE64.encode(bytes.as_slice());
    for form in [&hex, &hex_upper, &b64, &b64_std] {
        assert!(!shown.contains(&form[..16]), "{shown}");
    }
    // Nor as a list of decimal bytes.
    let decimal = format!("{:?}", &bytes[..4]);
    assert!(!shown.contains(&decimal[1..decimal.len() - 1]), "{shown}");
}

#[test]
fn private_key_bytes_round_trip_and_bad_scalars_are_refused() {
    let (sk, pk) = keypair();
    let again = PersonalPrivateKey::from_bytes(sk.to_bytes().as_slice()).unwrap();
    assert_eq!(again.public_key(), pk);
    assert_eq!(sk.public_key(), pk);
    // Zero, the group order n, all-ones and wrong lengths.
    let order = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    for bad in [
        vec![0u8; 32],
        order,
        vec![0xff; 32],
        vec![1u8; 31],
        vec![1u8; 33],
        vec![],
    ] {
        assert_eq!(
            PersonalPrivateKey::from_bytes(&bad).unwrap_err(),
            PersonalError::InvalidKey
        );
    }
}

#[test]
fn public_key_encodings() {
    let (_, pk) = keypair();
    let bytes = pk.to_bytes();
    assert_eq!(bytes.len(), PersonalPublicKey::LEN);
    assert_eq!(bytes[0], 0x04);
    assert_eq!(PersonalPublicKey::from_bytes(&bytes).unwrap(), pk);

    let text = pk.to_base64url();
    assert_eq!(text.len(), 87);
    assert!(!text.contains(['=', '+', '/']));
    assert_eq!(PersonalPublicKey::from_base64url(&text).unwrap(), pk);
    assert!(format!("{pk:?}").contains(&text));

    let json = serde_json::to_string(&pk).unwrap();
    assert_eq!(json, format!("\"{text}\""));
    assert_eq!(
        serde_json::from_str::<PersonalPublicKey>(&json).unwrap(),
        pk
    );
    assert!(serde_json::from_str::<PersonalPublicKey>("\"AAAA\"").is_err());

    // Compressed form, wrong lengths, off-curve point, infinity, bad text.
    let mut compressed = bytes[..33].to_vec();
    compressed[0] = 0x02 | (bytes[64] & 1);
    let mut off_curve = bytes;
    off_curve[64] ^= 1;
    let mut wrong_tag = bytes;
    wrong_tag[0] = 0x06;
    for bad in [
        compressed,
        bytes[..64].to_vec(),
        [bytes.as_slice(), &[0]].concat(),
        off_curve.to_vec(),
        wrong_tag.to_vec(),
        vec![0u8; 65],
        vec![0u8],
        vec![],
    ] {
        assert_eq!(
            PersonalPublicKey::from_bytes(&bad).unwrap_err(),
            PersonalError::InvalidKey
        );
    }
    for bad in ["", "not base64!", &format!("{text}="), &text[1..]] {
        assert_eq!(
            PersonalPublicKey::from_base64url(bad).unwrap_err(),
            PersonalError::InvalidKey
        );
    }
}

#[test]
fn errors_say_nothing_specific() {
    assert_eq!(
        PersonalError::Open.to_string(),
        "the personal value cannot be opened"
    );
}

#[test]
fn interop_vectors_open_through_the_public_api() {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("vectors/clavitor-personal-v1.json")).unwrap();
    let sk = PersonalPrivateKey::from_bytes(&hex(v["skR"].as_str().unwrap())).unwrap();
    let pk = PersonalPublicKey::from_bytes(&hex(v["pkR"].as_str().unwrap())).unwrap();
    assert_eq!(sk.public_key(), pk);
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let c = &case["context"];
        let context = ctx(
            c["vault_id"].as_str().unwrap(),
            c["entry_id"].as_str().unwrap(),
            c["field_id"].as_str().unwrap(),
            c["revision"].as_u64().unwrap(),
        );
        assert_eq!(context.info(), hex(case["info"].as_str().unwrap()));
        let blob = hex(case["blob"].as_str().unwrap());
        assert_eq!(
            data_encoding::BASE64URL_NOPAD
                .decode(case["blob_base64url"].as_str().unwrap().as_bytes())
                .unwrap(),
            blob
        );
        let plaintext = personal::open(&sk, &context, &blob).unwrap();
        assert_eq!(
            plaintext.as_slice(),
            hex(case["plaintext"].as_str().unwrap())
        );
        assert_eq!(
            plaintext.as_slice(),
            case["plaintext_utf8"].as_str().unwrap().as_bytes()
        );
        // And a fresh seal of the same plaintext opens too.
        let fresh = personal::seal(&pk, &context, &plaintext).unwrap();
        assert_eq!(personal::open(&sk, &context, &fresh).unwrap(), plaintext);
    }
}
