//! The demo library as players and the MediaServers read it: tagged, timed and always the same
//! bytes (track ids are hashes of the files).

use std::path::Path;

use lofty::file::{AudioFile, TaggedFileExt};
use lofty::probe::Probe;
use lofty::tag::Accessor;
use media_synth::library::{self, QUICK};
use media_synth::mp3::{self, Encoding, Tags};
use sha2::{Digest, Sha256};

/// SHA-256 of each quick track. A change here changes every track id the grid hands out: only
/// on purpose (a new encoder or synthesiser version), never by the machine or the build profile.
const QUICK_SHA256: [&str; 3] = [
    "7486ec127dde2ecfa1963c6bd5ac338a4c7012fd8cb22bdfa1202e74bbb77f43",
    "157151261012b8e6ac0d5ffadaa9185976fd63e18894f493f874a42904ff7466",
    "4d1215f5fbc561188621f11b4c8d8061abc681aa017ec4388d3d67a04b31a2d1",
];

fn sha(path: &Path) -> String {
    hex::encode(Sha256::digest(
        std::fs::read(path).expect("reading a made track"),
    ))
}

#[test]
fn quick_library_is_tagged_timed_and_byte_identical_every_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seen = std::sync::Mutex::new(Vec::new());
    let report = library::make(dir.path(), QUICK, false, |t, _, _| {
        seen.lock().expect("lock").push(t.file)
    })
    .expect("make");
    let want: Vec<_> = QUICK.iter().map(|t| dir.path().join(t.file)).collect();
    assert_eq!(report.made, want, "every track, in the library's order");
    assert_eq!(report.kept, 0);
    let mut seen = seen.into_inner().expect("lock");
    seen.sort();
    let mut files: Vec<_> = QUICK.iter().map(|t| t.file).collect();
    files.sort();
    assert_eq!(seen, files, "each track reported once");

    for (track, want) in QUICK.iter().zip(QUICK_SHA256) {
        let path = dir.path().join(track.file);
        assert_eq!(sha(&path), want, "{} changed bytes", track.file);

        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(&bytes[..3], b"ID3", "{}: ID3v2 first", track.file);
        assert_eq!(bytes[3], 3, "{}: ID3v2.3", track.file);
        assert_eq!(
            &bytes[bytes.len() - 128..][..3],
            b"TAG",
            "{}: ID3v1 last",
            track.file
        );
        let marker: &[u8] = if matches!(track.encoding, Encoding::Vbr(_)) {
            b"Xing"
        } else {
            b"Info"
        };
        assert!(
            bytes[..2048].windows(4).any(|w| w == marker),
            "{}: the first frame is LAME's {} frame",
            track.file,
            String::from_utf8_lossy(marker)
        );

        let tagged = Probe::open(&path)
            .expect("open")
            .read()
            .expect("lofty reads it");
        let tag = tagged.primary_tag().expect("an ID3v2 tag");
        assert_eq!(tag.title().as_deref(), Some(track.title));
        assert_eq!(tag.artist().as_deref(), Some(track.artist));
        assert_eq!(tag.album().as_deref(), Some(track.album));
        assert_eq!(tag.track(), Some(track.number.0));
        assert_eq!(tag.track_total(), Some(track.number.1));
        assert_eq!(tag.date().map(|d| d.year), Some(track.year));
        let ms = tagged.properties().duration().as_millis() as f64;
        // LAME's Xing frame counts frames (1152 samples, 26.1 ms each), so the duration is exact
        // to within a frame plus the encoder's padding.
        assert!(
            (ms - track.seconds * 1000.0).abs() < 60.0,
            "{}: {ms} ms for {} s",
            track.file,
            track.seconds
        );
        match track.encoding {
            Encoding::Cbr(kbps) => {
                assert_eq!(tagged.properties().audio_bitrate(), Some(u32::from(kbps)))
            }
            Encoding::Vbr(_) => {}
        }
    }

    // Present tracks are kept; --force remakes them, byte for byte the same.
    let again = library::make(dir.path(), QUICK, false, |_, _, _| ()).expect("make");
    assert_eq!((again.made.len(), again.kept), (0, 3));
    let forced = library::make(dir.path(), QUICK, true, |_, _, _| ()).expect("make");
    assert_eq!(forced.made.len(), 3);
    for (track, want) in QUICK.iter().zip(QUICK_SHA256) {
        assert_eq!(sha(&dir.path().join(track.file)), want);
    }
    let leftovers: Vec<_> = walk(dir.path())
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn untagged_audio_has_no_tags_and_odd_pcm_is_refused() {
    let pcm: Vec<i16> = (0..44_100 * 2).map(|i| ((i % 200) * 100) as i16).collect();
    let bytes = mp3::encode(&pcm, Encoding::Cbr(128), &Tags::default()).expect("encode");
    assert_eq!(&bytes[..2], &[0xff, 0xfb], "starts with a frame, no ID3v2");
    assert_ne!(&bytes[bytes.len() - 128..][..3], b"TAG", "no ID3v1");

    let err = mp3::encode(&pcm[..3], Encoding::Cbr(128), &Tags::default()).expect_err("odd");
    assert_eq!(
        err.to_string(),
        "stereo PCM must hold an even number of samples, not 3"
    );
    let err = mp3::encode_le_bytes(&[0; 6], Encoding::Cbr(128), &Tags::default()).expect_err("6");
    assert_eq!(
        err.to_string(),
        "16-bit stereo PCM must be a multiple of 4 bytes long, not 6"
    );
}

#[test]
fn encodings_parse_and_bad_ones_say_what_is_allowed() {
    assert_eq!("cbr:192".parse(), Ok(Encoding::Cbr(192)));
    assert_eq!("vbr:0".parse(), Ok(Encoding::Vbr(0)));
    assert_eq!(Encoding::Vbr(2).to_string(), "vbr:2");
    for bad in ["cbr:100", "vbr:10", "abr:128", "cbr", "cbr:x"] {
        let err = bad.parse::<Encoding>().expect_err(bad);
        assert_eq!(
            err,
            format!("'{bad}' is not an encoding (cbr:KBPS with KBPS 32..320, or vbr:0..9)")
        );
    }
}
