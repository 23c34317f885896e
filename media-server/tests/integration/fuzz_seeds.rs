//! The fuzz target's seed corpus (`fuzz/seeds/control_line/`) through its harness, so that CI
//! runs the fuzz checks on known tricky inputs without nightly Rust or `cargo fuzz`.

#[path = "../support/control_fuzz.rs"]
mod control_fuzz;

#[test]
fn seed_corpus_passes_the_control_line_harness() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/control_line");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("the seed folder") {
        let data = std::fs::read(entry.expect("an entry").path()).expect("a seed");
        control_fuzz::run(&data);
        count += 1;
    }
    assert!(count >= 10, "only {count} seeds in {}", dir.display());
}
