//! The fuzz targets' seed corpora (`fuzz/seeds/<target>/`) through their harnesses, so that CI
//! runs the fuzz checks on known tricky inputs without nightly Rust or `cargo fuzz`.

use crate::{descriptor_fuzz, icy_fuzz};

/// Every file of `fuzz/seeds/<target>/`.
fn seeds(target: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            (path, data)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn seed_corpus_passes_the_descriptor_harness() {
    let seeds = seeds("descriptor");
    assert!(seeds.len() >= 10, "only {} descriptor seeds", seeds.len());
    for (_, data) in &seeds {
        descriptor_fuzz::run(data);
    }
}

#[test]
fn seed_corpus_passes_the_icy_harness() {
    let seeds = seeds("icy_decoder");
    assert!(seeds.len() >= 8, "only {} ICY seeds", seeds.len());
    for (_, data) in seeds {
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
    }
}
