//! Lenient parsing, malformed input, canonical URIs and redaction.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clavitor_totp::{Algorithm, TotpError, TotpParams, parse};

/// 80-bit secret (16 base32 symbols) = b"Hello!\xde\xad\xbe\xef".
const SECRET: &str = "JBSWY3DPEHPK3PXP";
const SECRET_BYTES: &[u8] = b"Hello!\xde\xad\xbe\xef";

fn bytes(input: &str) -> Vec<u8> {
    parse(input)
        .unwrap_or_else(|e| panic!("{input:?}: {e}"))
        .secret()
        .expose()
        .to_vec()
}

fn err(input: &str) -> TotpError {
    match parse(input) {
        Ok(p) => panic!("{input:?} parsed: {p:?}"),
        Err(e) => e,
    }
}

// ---- bare secrets ----------------------------------------------------------

#[test]
fn bare_secret_gets_defaults() {
    let p = parse(SECRET).unwrap();
    assert_eq!(p.secret().expose(), SECRET_BYTES);
    assert_eq!(p.algorithm(), Algorithm::Sha1);
    assert_eq!(p.digits(), 6);
    assert_eq!(p.period(), 30);
    assert_eq!(p.issuer(), None);
    assert_eq!(p.account(), None);
}

#[test]
fn lower_case_secret() {
    assert_eq!(bytes("jbswy3dpehpk3pxp"), SECRET_BYTES);
    assert_eq!(bytes("JbSwY3dPeHpK3pXp"), SECRET_BYTES);
    assert_eq!(
        bytes("otpauth://totp/x?secret=jbswy3dpehpk3pxp"),
        SECRET_BYTES
    );
}

#[test]
fn spaces_inside_secret() {
    assert_eq!(bytes("JBSW Y3DP EHPK 3PXP"), SECRET_BYTES);
    assert_eq!(bytes("  jbsw y3dp\tehpk 3pxp \n"), SECRET_BYTES);
    assert_eq!(bytes("JBSW-Y3DP-EHPK-3PXP"), SECRET_BYTES);
    assert_eq!(bytes("JBSW\u{a0}Y3DP"), bytes("JBSWY3DP"));
    assert_eq!(
        bytes("otpauth://totp/x?secret=JBSW%20Y3DP%20EHPK%203PXP"),
        SECRET_BYTES
    );
    assert_eq!(
        bytes("otpauth://totp/x?secret=JBSW+Y3DP+EHPK+3PXP"),
        SECRET_BYTES
    );
    assert_eq!(
        bytes("otpauth://totp/x?secret=JBSW Y3DP EHPK 3PXP&digits=6"),
        SECRET_BYTES
    );
}

#[test]
fn padding_with_equals_or_percent_3d() {
    // "foobar" is MZXW6YTBOI====== in padded base32.
    for input in [
        "MZXW6YTBOI======",
        "MZXW6YTBOI",
        "MZXW6YTBOI=",
        "mzxw6ytboi%3D%3D%3D%3D%3D%3D",
        "mzxw6ytboi%3d%3d",
        "otpauth://totp/x?secret=MZXW6YTBOI======",
        "otpauth://totp/x?secret=MZXW6YTBOI%3D%3D%3D%3D%3D%3D",
        // Double-encoded padding still reads as padding once decoded.
        "otpauth://totp/x?secret=MZXW6YTBOI%253D%253D",
    ] {
        assert_eq!(bytes(input), b"foobar", "{input}");
    }
}

#[test]
fn eighty_bit_secret() {
    assert_eq!(bytes(SECRET).len(), 10);
    let p = parse(&format!("otpauth://totp/Example:alice?secret={SECRET}")).unwrap();
    assert_eq!(p.secret().len(), 10);
    assert_eq!(p.code_at(0).len(), 6);
}

#[test]
fn lengths_not_multiple_of_8_symbols() {
    // 26 symbols = 130 bits -> 16 bytes (2 bits dropped), the Google style.
    let s26 = "JBSWY3DPEHPK3PXPJBSWY3DPEH";
    assert_eq!(bytes(s26).len(), 16);
    // 32 symbols = 20 bytes, 52 symbols = 32 bytes, 103 symbols = 64 bytes.
    assert_eq!(bytes(&"A".repeat(32)).len(), 20);
    assert_eq!(bytes(&"A".repeat(52)).len(), 32);
    assert_eq!(bytes(&"A".repeat(103)).len(), 64);
    for n in 2..=40 {
        let expected = n * 5 / 8;
        assert_eq!(bytes(&"B".repeat(n)).len(), expected, "{n} symbols");
    }
}

// ---- otpauth URIs ----------------------------------------------------------

#[test]
fn algorithm_in_any_case() {
    for (name, alg) in [
        ("sha512", Algorithm::Sha512),
        ("SHA512", Algorithm::Sha512),
        ("Sha256", Algorithm::Sha256),
        ("sHa256", Algorithm::Sha256),
        ("SHA-256", Algorithm::Sha256),
        ("sha1", Algorithm::Sha1),
        ("SHA1", Algorithm::Sha1),
    ] {
        let p = parse(&format!(
            "otpauth://totp/x?secret={SECRET}&algorithm={name}"
        ))
        .unwrap();
        assert_eq!(p.algorithm(), alg, "{name}");
    }
}

#[test]
fn issuer_in_label_only() {
    let p = parse(&format!("otpauth://totp/GitHub:octocat?secret={SECRET}")).unwrap();
    assert_eq!(p.issuer(), Some("GitHub"));
    assert_eq!(p.account(), Some("octocat"));
    let p = parse(&format!("otpauth://totp/GitHub: octocat?secret={SECRET}")).unwrap();
    assert_eq!(p.issuer(), Some("GitHub"));
    assert_eq!(p.account(), Some("octocat"));
}

#[test]
fn issuer_as_parameter_only() {
    let p = parse(&format!(
        "otpauth://totp/octocat?secret={SECRET}&issuer=GitHub"
    ))
    .unwrap();
    assert_eq!(p.issuer(), Some("GitHub"));
    assert_eq!(p.account(), Some("octocat"));
}

#[test]
fn issuer_parameter_wins_over_label() {
    let p = parse(&format!(
        "otpauth://totp/Old%20Name:octocat?secret={SECRET}&issuer=GitHub%20Inc."
    ))
    .unwrap();
    assert_eq!(p.issuer(), Some("GitHub Inc."));
    assert_eq!(p.account(), Some("octocat"));
    // An issuer containing ':' is stripped whole from the label.
    let p = parse(&format!(
        "otpauth://totp/A%3AB:bob?secret={SECRET}&issuer=A%3AB"
    ))
    .unwrap();
    assert_eq!(p.issuer(), Some("A:B"));
    assert_eq!(p.account(), Some("bob"));
}

#[test]
fn url_encoded_labels() {
    let p = parse(&format!(
        "otpauth://totp/ACME%20Co%3Ajohn.doe%40email.com?secret={SECRET}"
    ))
    .unwrap();
    assert_eq!(p.issuer(), Some("ACME Co"));
    assert_eq!(p.account(), Some("john.doe@email.com"));
    let p = parse(&format!("otpauth://totp/ACME Co:john doe?secret={SECRET}")).unwrap();
    assert_eq!(p.issuer(), Some("ACME Co"));
    assert_eq!(p.account(), Some("john doe"));
    let p = parse(&format!("otpauth://totp/Caf%C3%A9:z%C3%BC?secret={SECRET}")).unwrap();
    assert_eq!(p.issuer(), Some("Café"));
    assert_eq!(p.account(), Some("zü"));
    let p = parse(&format!("otpauth://totp/?secret={SECRET}")).unwrap();
    assert_eq!((p.issuer(), p.account()), (None, None));
    let p = parse(&format!("otpauth://totp?secret={SECRET}&issuer=X")).unwrap();
    assert_eq!((p.issuer(), p.account()), (Some("X"), None));
}

#[test]
fn digits_and_period_parameters() {
    for d in [6, 7, 8] {
        let p = parse(&format!("otpauth://totp/x?secret={SECRET}&digits={d}")).unwrap();
        assert_eq!(p.digits(), d);
        assert_eq!(p.code_at(1_234_567_890).len(), d as usize);
    }
    for period in [1, 15, 30, 60, 90, 3600, u64::MAX] {
        let p = parse(&format!("otpauth://totp/x?secret={SECRET}&period={period}")).unwrap();
        assert_eq!(p.period(), period);
    }
    let p = parse(&format!(
        "otpauth://totp/x?secret={SECRET}&digits=&period=&algorithm=&issuer="
    ))
    .unwrap();
    assert_eq!(
        (p.digits(), p.period(), p.algorithm()),
        (6, 30, Algorithm::Sha1)
    );
    assert_eq!(p.issuer(), None);
}

#[test]
fn scheme_type_and_parameter_names_in_any_case() {
    let p = parse(&format!(
        "OTPAUTH://TOTP/Acme:me?SECRET={SECRET}&Digits=8&PERIOD=60&Algorithm=SHA256&Issuer=Acme"
    ))
    .unwrap();
    assert_eq!(p.secret().expose(), SECRET_BYTES);
    assert_eq!(
        (p.digits(), p.period(), p.algorithm()),
        (8, 60, Algorithm::Sha256)
    );
    assert_eq!(p.issuer(), Some("Acme"));
}

#[test]
fn unknown_parameters_are_ignored() {
    let p = parse(&format!(
        "otpauth://totp/x?secret={SECRET}&image=https%3A%2F%2Fexample.com%2Fa.png&counter=3&foo"
    ))
    .unwrap();
    assert_eq!(p.secret().expose(), SECRET_BYTES);
}

#[test]
fn google_authenticator_example() {
    let p = parse("otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example")
        .unwrap();
    assert_eq!(p.issuer(), Some("Example"));
    assert_eq!(p.account(), Some("alice@google.com"));
    assert_eq!(p.secret().expose(), SECRET_BYTES);
}

// ---- malformed -------------------------------------------------------------

#[test]
fn malformed_digits() {
    for d in [
        "5",
        "9",
        "0",
        "10",
        "abc",
        "-6",
        "6.0",
        "99999999999999999999",
        "６",
    ] {
        assert_eq!(
            err(&format!("otpauth://totp/x?secret={SECRET}&digits={d}")),
            TotpError::InvalidDigits,
            "digits={d}"
        );
    }
}

#[test]
fn malformed_period() {
    for p in [
        "0",
        "-30",
        "-0",
        "abc",
        "30s",
        "1e3",
        "18446744073709551616",
        "99999999999999999999999999",
    ] {
        assert_eq!(
            err(&format!("otpauth://totp/x?secret={SECRET}&period={p}")),
            TotpError::InvalidPeriod,
            "period={p}"
        );
    }
}

#[test]
fn malformed_algorithm() {
    for a in ["md5", "sha384", "sha3-256", "SHA", "1"] {
        assert_eq!(
            err(&format!("otpauth://totp/x?secret={SECRET}&algorithm={a}")),
            TotpError::UnknownAlgorithm,
            "algorithm={a}"
        );
    }
}

#[test]
fn malformed_secrets() {
    assert_eq!(err("JBSWY3DPEHPK3PX1"), TotpError::InvalidSecret);
    assert_eq!(err("JBSWY3DP!EHPK3PX"), TotpError::InvalidSecret);
    assert_eq!(err("JBSW=Y3DP"), TotpError::InvalidSecret);
    assert_eq!(err("https://example.com/"), TotpError::InvalidSecret);
    assert_eq!(err("Zürich"), TotpError::InvalidSecret);
    assert_eq!(
        err("otpauth://totp/x?secret=0000"),
        TotpError::InvalidSecret
    );
    assert_eq!(err("otpauth://totp/x?secret="), TotpError::EmptySecret);
    assert_eq!(
        err("otpauth://totp/x?secret=%3D%3D"),
        TotpError::EmptySecret
    );
    assert_eq!(err("otpauth://totp/x?secret=A"), TotpError::EmptySecret);
    assert_eq!(err("otpauth://totp/x?issuer=y"), TotpError::MissingSecret);
    assert_eq!(err("otpauth://totp/x"), TotpError::MissingSecret);
    assert_eq!(err("===="), TotpError::EmptySecret);
    assert_eq!(err(""), TotpError::Empty);
    assert_eq!(err(" \n\t "), TotpError::Empty);
}

#[test]
fn hotp_and_other_types_are_refused() {
    assert_eq!(
        err(&format!("otpauth://hotp/x?secret={SECRET}&counter=0")),
        TotpError::HotpUnsupported
    );
    assert_eq!(
        err(&format!("OTPAUTH://HOTP/x?secret={SECRET}")),
        TotpError::HotpUnsupported
    );
    assert_eq!(
        err(&format!("otpauth://steam/x?secret={SECRET}")),
        TotpError::UnsupportedType
    );
    assert_eq!(
        err(&format!("otpauth:totp/x?secret={SECRET}")),
        TotpError::UnsupportedType
    );
    assert_eq!(
        err(&format!("otpauth:///x?secret={SECRET}")),
        TotpError::UnsupportedType
    );
    assert_eq!(err("otpauth://"), TotpError::UnsupportedType);
    assert_eq!(err("otpauth://[::1/"), TotpError::InvalidUri);
}

#[test]
fn duplicate_parameters_are_ambiguous() {
    assert_eq!(
        err(&format!("otpauth://totp/x?secret={SECRET}&secret=GEZDGNBV")),
        TotpError::DuplicateParameter("secret")
    );
    assert_eq!(
        err(&format!(
            "otpauth://totp/x?secret={SECRET}&digits=6&DIGITS=8"
        )),
        TotpError::DuplicateParameter("digits")
    );
}

// ---- canonical URI ---------------------------------------------------------

#[test]
fn canonical_uri() {
    let p = parse(&format!(
        "otpauth://totp/ACME%20Co:john.doe@email.com?secret={}&issuer=ACME+Co&algorithm=sha256&digits=8&period=60",
        SECRET.to_lowercase()
    ))
    .unwrap();
    assert_eq!(
        p.to_uri().expose(),
        "otpauth://totp/ACME%20Co:john.doe@email.com?secret=JBSWY3DPEHPK3PXP&issuer=ACME%20Co&algorithm=SHA256&digits=8&period=60"
    );
    let bare = parse("jbsw y3dp ehpk 3pxp ====").unwrap();
    assert_eq!(
        bare.to_uri().expose(),
        "otpauth://totp/?secret=JBSWY3DPEHPK3PXP&algorithm=SHA1&digits=6&period=30"
    );
    // to_uri returns a redacting wrapper.
    assert_eq!(format!("{:?}", bare.to_uri()), "[REDACTED]");
}

#[test]
fn canonical_uri_round_trips() {
    let cases = [
        (Some("GitHub"), Some("octocat")),
        (Some("A:B & C"), Some("x:y@z")),
        (None, Some("a:b")),
        (None, Some("plain")),
        (Some("Only issuer"), None),
        (None, None),
        (Some("Café ☕"), Some("Ünïcode 100%")),
    ];
    for (issuer, account) in cases {
        let p = TotpParams::new(SECRET_BYTES.to_vec(), Algorithm::Sha512, 7, 45)
            .unwrap()
            .with_label(issuer.map(str::to_owned), account.map(str::to_owned));
        let uri = p.to_uri();
        let q = parse(uri.expose()).unwrap();
        assert_eq!(q.issuer(), issuer, "{}", uri.expose());
        assert_eq!(q.account(), account, "{}", uri.expose());
        assert_eq!(q.secret().expose(), SECRET_BYTES);
        assert_eq!(
            (q.algorithm(), q.digits(), q.period()),
            (Algorithm::Sha512, 7, 45)
        );
        assert_eq!(q.to_uri().expose(), uri.expose());
    }
}

// ---- redaction -------------------------------------------------------------

fn assert_no_secret(text: &str, secret: &str) {
    assert!(!text.contains(secret), "secret leaked in {text:?}");
    assert!(
        !text.to_lowercase().contains(&secret.to_lowercase()),
        "secret leaked in {text:?}"
    );
}

#[test]
fn debug_never_shows_the_secret() {
    let p = parse(&format!("otpauth://totp/GitHub:octocat?secret={SECRET}")).unwrap();
    let debug = format!("{p:?} {:?} {p:#?}", p.secret());
    assert_no_secret(&debug, SECRET);
    assert!(!debug.contains("Hello"), "{debug}");
    assert!(!debug.contains("72, 101"), "{debug}"); // b"He" as a byte list
    assert!(!debug.contains("222"), "{debug}"); // 0xde
    assert!(debug.contains("[REDACTED]"), "{debug}");
    assert!(debug.contains("octocat"), "{debug}");
}

#[test]
fn errors_never_show_the_secret() {
    let long = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let inputs = [
        format!("otpauth://totp/x?secret={long}&digits=5"),
        format!("otpauth://totp/x?secret={long}&digits={long}"),
        format!("otpauth://totp/x?secret={long}&period=0"),
        format!("otpauth://totp/x?secret={long}&period={long}"),
        format!("otpauth://totp/x?secret={long}&algorithm=md5"),
        format!("otpauth://totp/x?secret={long}&algorithm={long}"),
        format!("otpauth://totp/x?secret={long}&secret={long}"),
        format!("otpauth://hotp/x?secret={long}"),
        format!("otpauth://{long}/x?secret={long}"),
        format!("otpauth://[{long}/"),
        format!("otpauth://totp/x?secret={long}1"),
        format!("{long}1"),
        format!("{long}!"),
        format!("otpauth://totp/x?issuer={long}"),
    ];
    for input in &inputs {
        let e = err(input);
        assert_no_secret(&format!("{e} {e:?}"), long);
        assert_no_secret(&format!("{e} {e:?}"), &long[..16]);
    }
}
