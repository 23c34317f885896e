//! The descriptor parsers' fuzz harness, shared by the `cargo fuzz` target (`fuzz/`) and by
//! `tests/integration/fuzz_seeds.rs`, which runs it on the seed corpus on stable Rust.
//!
//! Input: any bytes, taken as the text of a descriptor file (lossily as UTF-8, as gridadmin
//! reads one) and given to the parser gridadmin and the registry would pick for it: IceGrid XML
//! when it starts with `<`, JSON when it starts with `{`, TOML otherwise. Checks: no panic;
//! an error names where it is; a descriptor that parses and expands writes out as TOML that
//! parses back to the same descriptor, expanding to the same servers.

use grid_proto::descriptor::ApplicationDescriptor;
use grid_proto::icegrid;

/// One input through the parsers.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if icegrid::is_xml("", &text) {
        let Ok(t) = icegrid::translate(&text) else {
            return;
        };
        if t.expand().is_err() {
            return;
        }
        if let Ok(toml) = t.to_toml("fuzz.xml") {
            round_trip(&toml);
        }
        return;
    }
    match ApplicationDescriptor::parse(&text) {
        Ok(d) => {
            if d.expand().is_ok() {
                let toml = toml::to_string(&d).expect("a parsed descriptor writes as TOML");
                assert_eq!(
                    ApplicationDescriptor::parse(&toml).as_ref().ok(),
                    Some(&d),
                    "TOML round trip of {text:?}"
                );
            }
        }
        Err(e) => assert!(!e.field.is_empty(), "an error without a place: {e:?}"),
    }
}

/// A translated descriptor's TOML parses and expands as the translation did.
fn round_trip(toml: &str) {
    let d = ApplicationDescriptor::parse(toml)
        .unwrap_or_else(|e| panic!("translated TOML does not parse: {e:?}\n{toml}"));
    let expanded = d.expand();
    assert!(
        expanded.is_ok(),
        "translated TOML does not expand: {expanded:?}\n{toml}"
    );
}
