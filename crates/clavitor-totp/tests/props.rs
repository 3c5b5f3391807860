//! Property tests: parsing never panics, accepted input is always usable,
//! and errors never carry the secret.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clavitor_totp::{Algorithm, TotpParams, parse};
use proptest::prelude::*;

fn digits_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..=12).prop_map(|d| d.to_string()),
        any::<i64>().prop_map(|d| d.to_string()),
        "[0-9a-z. -]{0,6}",
        Just(String::new()),
    ]
}

fn period_value() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..=120).prop_map(|p| p.to_string()),
        any::<u64>().prop_map(|p| p.to_string()),
        any::<i128>().prop_map(|p| p.to_string()),
        "[0-9a-z. -]{0,6}",
    ]
}

fn algorithm_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "sha1", "SHA1", "Sha256", "SHA256", "sha512", "SHA-512", "md5", "", "SHA384",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z0-9_-]{0,8}",
    ]
}

fn secret_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Z2-7]{1,64}",
        "[a-zA-Z2-7 =]{0,40}",
        "[a-zA-Z0-9=%+ ]{0,40}",
        "[A-Z2-7]{16}(%3D|=){0,6}",
    ]
}

fn check_usable(p: &TotpParams, t: u64) {
    assert!((6..=8).contains(&p.digits()));
    assert!(p.period() > 0);
    assert!(!p.secret().is_empty());
    let code = p.code_at(t);
    assert_eq!(code.len(), p.digits() as usize);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    assert!((1..=p.period()).contains(&p.seconds_left(t)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_any_string(s in any::<String>()) {
        let _ = parse(&s);
    }

    #[test]
    fn parse_never_panics_on_otpauth_prefixes(
        kind in prop::sample::select(vec!["totp", "TOTP", "hotp", "", "x"]),
        rest in ".{0,80}",
    ) {
        let _ = parse(&format!("otpauth://{kind}/{rest}"));
        let _ = parse(&format!("otpauth://{kind}?{rest}"));
    }

    #[test]
    fn parameter_combinations(
        secret in secret_value(),
        digits in digits_value(),
        period in period_value(),
        algorithm in algorithm_value(),
        label in "[a-zA-Z0-9 :%@.]{0,20}",
        t in any::<u64>(),
    ) {
        let uri = format!(
            "otpauth://totp/{label}?secret={secret}&digits={digits}&period={period}&algorithm={algorithm}"
        );
        match parse(&uri) {
            Ok(p) => {
                check_usable(&p, t);
                if !digits.trim().is_empty() {
                    prop_assert_eq!(Ok(p.digits()), digits.trim().parse::<u32>());
                }
                if !period.trim().is_empty() {
                    prop_assert_eq!(Ok(p.period()), period.trim().parse::<u64>());
                }
                // The canonical form reads back to the same thing.
                let q = parse(p.to_uri().expose()).unwrap();
                prop_assert_eq!(q.secret().expose(), p.secret().expose());
                prop_assert_eq!((q.algorithm(), q.digits(), q.period()), (p.algorithm(), p.digits(), p.period()));
                prop_assert_eq!((q.issuer(), q.account()), (p.issuer(), p.account()));
                prop_assert_eq!(q.code_at(t), p.code_at(t));
            }
            Err(e) => {
                let shown = format!("{e} {e:?}");
                let clean: String = secret.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
                if clean.len() >= 8 {
                    prop_assert!(!shown.contains(&clean), "{}", shown);
                }
            }
        }
    }

    #[test]
    fn valid_secrets_always_parse_bare_and_in_uri(
        secret in "[A-Z2-7]{2,64}",
        lower in any::<bool>(),
        t in any::<u64>(),
    ) {
        let input = if lower { secret.to_lowercase() } else { secret.clone() };
        let bare = parse(&input).unwrap();
        let uri = parse(&format!("otpauth://totp/x?secret={input}")).unwrap();
        prop_assert_eq!(bare.secret().expose(), uri.secret().expose());
        prop_assert_eq!(bare.secret().len(), secret.len() * 5 / 8);
        check_usable(&bare, t);
        let shown = format!("{bare:?}");
        // A short secret may occur by chance (`RE` in "[REDACTED]").
        if secret.len() >= 8 {
            prop_assert!(!shown.contains(&secret), "{}", shown);
        }
    }

    #[test]
    fn round_trip_through_new_and_to_uri(
        key in prop::collection::vec(any::<u8>(), 1..80),
        alg in prop::sample::select(vec![Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512]),
        digits in 6u32..=8,
        period in 1u64..=u64::MAX,
        issuer in proptest::option::of(".{0,12}"),
        account in proptest::option::of(".{0,12}"),
        t in any::<u64>(),
    ) {
        let p = TotpParams::new(key.clone(), alg, digits, period).unwrap().with_label(issuer, account);
        let q = parse(p.to_uri().expose()).unwrap();
        prop_assert_eq!(q.secret().expose(), &key[..]);
        prop_assert_eq!((q.algorithm(), q.digits(), q.period()), (alg, digits, period));
        prop_assert_eq!((q.issuer(), q.account()), (p.issuer(), p.account()));
        prop_assert_eq!(q.code_at(t), p.code_at(t));
        check_usable(&q, t);
    }
}
