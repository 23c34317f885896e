//! The fuzz target's seed corpus (`fuzz/seeds/icy_decoder/`) through its harness, so that CI
//! runs the fuzz checks on known tricky inputs without nightly Rust or `cargo fuzz`.

use crate::icy_fuzz;

#[test]
fn seed_corpus_passes_the_fuzz_harness() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/icy_decoder");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        // Every mode and a few splits, whatever mode the file names.
        for mode in 0..4u8 {
            for seed in [0u8, 1, 77] {
                let mut input = data.clone();
                if input.len() >= 3 {
                    input[0] = mode;
                    input[2] = seed;
                }
                icy_fuzz::run(&input);
            }
        }
        count += 1;
    }
    assert!(count >= 8, "only {count} seeds in {}", dir.display());
}
