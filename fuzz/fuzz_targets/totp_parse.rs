//! `clavitor_totp::parse` must never panic, and whatever it accepts must
//! produce codes and read back from its canonical URI unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(params) = clavitor_totp::parse(input) else {
        return;
    };
    let t = data
        .iter()
        .fold(0u64, |acc, b| acc.rotate_left(8) ^ u64::from(*b));
    let code = params.code_at(t);
    assert_eq!(code.len(), params.digits() as usize);
    assert!((1..=params.period()).contains(&params.seconds_left(t)));

    let uri = params.to_uri();
    let again = match clavitor_totp::parse(uri.expose()) {
        Ok(again) => again,
        Err(e) => panic!("canonical URI rejected: {e}"),
    };
    assert_eq!(again.secret().expose(), params.secret().expose());
    assert_eq!(again.issuer(), params.issuer());
    assert_eq!(again.account(), params.account());
    assert_eq!(again.code_at(t), code);
});
