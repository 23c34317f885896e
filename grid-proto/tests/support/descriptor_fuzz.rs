//! The descriptor parsers' fuzz harness, shared by the `cargo fuzz` target (`fuzz/`) and by
//! `tests/integration/fuzz_seeds.rs`, which runs it on the seed corpus on stable Rust.
//!
//! Input: any bytes, taken as the text of a descriptor file (lossily as UTF-8, as gridadmin
//! reads one) and given to the parser gridadmin and the registry would pick for it: IceGrid XML
//! when it starts with `<`, JSON when it starts with `{`, TOML otherwise. Checks: no panic;
//! an error names where it is; a descriptor that parses and expands (TOML, JSON, or IceGrid XML
//! translated) writes out as TOML that parses back, expanding to the same servers, and for
//! TOML and JSON to the same descriptor.

use grid_proto::descriptor::{ApplicationDescriptor, ExpandedApplication};
use grid_proto::icegrid;

/// One input through the parsers.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if icegrid::is_xml("", &text) {
        let t = match icegrid::translate(&text) {
            Ok(t) => t,
            Err(e) => {
                assert!(!e.message.is_empty(), "an XML error without a message");
                return;
            }
        };
        let Ok(expanded) = t.expand() else {
            return;
        };
        let toml = t
            .to_toml("fuzz.xml")
            .unwrap_or_else(|e| panic!("a translation that expands does not write as TOML: {e:?}"));
        round_trip(&toml, &expanded);
        return;
    }
    match ApplicationDescriptor::parse(&text) {
        Ok(d) => {
            if let Ok(expanded) = d.expand() {
                let toml = toml::to_string(&d).expect("a parsed descriptor writes as TOML");
                let back = round_trip(&toml, &expanded);
                assert_eq!(back, d, "TOML round trip of {text:?}");
            }
        }
        Err(e) => assert!(!e.field.is_empty(), "an error without a place: {e:?}"),
    }
}

/// `toml` parses and expands to the same servers as `expanded`; the descriptor it parsed to.
fn round_trip(toml: &str, expanded: &ExpandedApplication) -> ApplicationDescriptor {
    let d = ApplicationDescriptor::parse(toml)
        .unwrap_or_else(|e| panic!("written TOML does not parse: {e:?}\n{toml}"));
    let again = d
        .expand()
        .unwrap_or_else(|e| panic!("written TOML does not expand: {e:?}\n{toml}"));
    assert_eq!(
        again.servers, expanded.servers,
        "servers after a round trip\n{toml}"
    );
    d
}
