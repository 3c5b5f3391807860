//! Known-answer vectors (fixtures named after their RFC) and time arithmetic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clavitor_totp::{Algorithm, TotpParams, hotp, parse};
use serde_json::Value;

const RFC_SHA1_KEY: &[u8] = b"12345678901234567890";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn algorithm(mode: &str) -> Algorithm {
    Algorithm::from_name(mode).unwrap_or_else(|| panic!("unknown mode {mode}"))
}

#[test]
fn rfc6238_appendix_b_every_row() {
    let doc = fixture("rfc6238-appendix-b.json");
    let period = doc["period"].as_u64().unwrap();
    let digits = u32::try_from(doc["digits"].as_u64().unwrap()).unwrap();
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 18, "Appendix B has 18 rows");
    for row in rows {
        let mode = row["mode"].as_str().unwrap();
        let time = row["time"].as_u64().unwrap();
        let expected = row["totp"].as_str().unwrap();
        let seed = doc["seeds"][mode].as_str().unwrap();
        let params =
            TotpParams::new(seed.as_bytes().to_vec(), algorithm(mode), digits, period).unwrap();
        let t_hex = u64::from_str_radix(row["t_hex"].as_str().unwrap(), 16).unwrap();
        assert_eq!(params.counter_at(time), t_hex, "T at {time}");
        assert_eq!(params.code_at(time), expected, "{mode} at {time}");

        // The same row through a parsed otpauth:// URI.
        let uri = format!(
            "otpauth://totp/RFC:{mode}?secret={}&algorithm={}&digits={digits}&period={period}",
            data_encoding::BASE32.encode(seed.as_bytes()),
            mode.to_lowercase(),
        );
        assert_eq!(parse(&uri).unwrap().code_at(time), expected, "{uri}");
    }
}

#[test]
fn rfc4226_appendix_d_every_row() {
    let doc = fixture("rfc4226-appendix-d.json");
    let secret = doc["secret"].as_str().unwrap().as_bytes();
    let alg = algorithm(doc["algorithm"].as_str().unwrap());
    let digits = u32::try_from(doc["digits"].as_u64().unwrap()).unwrap();
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    for row in rows {
        let counter = row["counter"].as_u64().unwrap();
        let expected = row["hotp"].as_str().unwrap();
        assert_eq!(
            hotp(secret, counter, digits, alg),
            expected,
            "counter {counter}"
        );
        // The 10-digit form is the whole truncated value.
        let truncated = row["truncated_decimal"].as_u64().unwrap();
        assert_eq!(
            hotp(secret, counter, 10, alg),
            format!("{truncated:010}"),
            "counter {counter}"
        );
    }
}

fn rfc_sha1(digits: u32, period: u64) -> TotpParams {
    TotpParams::new(RFC_SHA1_KEY.to_vec(), Algorithm::Sha1, digits, period).unwrap()
}

#[test]
fn step_edges_period_30() {
    let p = rfc_sha1(6, 30);
    // Counters 0, 1, 2 are RFC 4226 Appendix D rows 0, 1, 2.
    for (t, code, left) in [
        (0, "755224", 30),
        (29, "755224", 1),
        (30, "287082", 30),
        (31, "287082", 29),
        (59, "287082", 1),
        (60, "359152", 30),
    ] {
        assert_eq!(p.code_at(t), code, "code at {t}");
        assert_eq!(p.seconds_left(t), left, "seconds left at {t}");
    }
}

#[test]
fn period_60() {
    let p = rfc_sha1(6, 60);
    assert_eq!(p.code_at(0), "755224");
    assert_eq!(p.code_at(59), "755224");
    assert_eq!(p.seconds_left(59), 1);
    assert_eq!(p.code_at(60), "287082");
    assert_eq!(p.seconds_left(60), 60);
    assert_eq!(p.code_at(119), "287082");
    assert_eq!(p.code_at(120), "359152");
    let parsed =
        parse("otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&period=60").unwrap();
    assert_eq!(parsed.period(), 60);
    assert_eq!(parsed.code_at(90), "287082");
}

#[test]
fn digits_6_7_8_are_suffixes_of_each_other() {
    // RFC 6238 SHA1 at t = 59 is 94287082.
    assert_eq!(rfc_sha1(8, 30).code_at(59), "94287082");
    assert_eq!(rfc_sha1(7, 30).code_at(59), "4287082");
    assert_eq!(rfc_sha1(6, 30).code_at(59), "287082");
    // Leading zeros are kept: RFC 6238 SHA1 at 1111111109 is 07081804.
    assert_eq!(rfc_sha1(8, 30).code_at(1_111_111_109), "07081804");
    assert_eq!(rfc_sha1(7, 30).code_at(1_111_111_109), "7081804");
}

#[test]
fn times_past_2_pow_31_and_near_u64_max() {
    let p = rfc_sha1(8, 30);
    for t in [
        (1u64 << 31) - 1,
        1 << 31,
        1 << 32,
        20_000_000_000,
        1 << 62,
        u64::MAX - 30,
        u64::MAX - 1,
        u64::MAX,
    ] {
        let code = p.code_at(t);
        assert_eq!(code, hotp(RFC_SHA1_KEY, t / 30, 8, Algorithm::Sha1), "{t}");
        assert_eq!(code.len(), 8);
        let left = p.seconds_left(t);
        assert!((1..=30).contains(&left), "{t}: {left}");
    }
    // u64::MAX = 30 * 614891469123651720 + 15.
    assert_eq!(p.counter_at(u64::MAX), 614_891_469_123_651_720);
    assert_eq!(p.seconds_left(u64::MAX), 15);

    let one = rfc_sha1(6, 1);
    assert_eq!(one.seconds_left(u64::MAX), 1);
    assert_eq!(one.counter_at(u64::MAX), u64::MAX);
    assert_eq!(one.code_at(u64::MAX).len(), 6);

    let huge = rfc_sha1(6, u64::MAX);
    assert_eq!(huge.code_at(u64::MAX - 1), "755224");
    assert_eq!(huge.seconds_left(u64::MAX - 1), 1);
    assert_eq!(huge.code_at(u64::MAX), "287082");
    assert_eq!(huge.seconds_left(u64::MAX), u64::MAX);
}

#[test]
fn now_reads_the_clock() {
    let unix_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let p = rfc_sha1(6, 30);
    let before = unix_now();
    let (code, left) = p.now();
    let after = unix_now();
    assert_eq!(code.len(), 6);
    assert!((1..=30).contains(&left));
    if p.counter_at(before) == p.counter_at(after) {
        assert_eq!(code, p.code_at(before));
    }
}
