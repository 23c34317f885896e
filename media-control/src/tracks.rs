//! Which track a TRACK argument means: a 16-hex id, or a unique case-insensitive part of a title.

use grid_proto::ids::TrackId;
use grid_proto::media::TrackInfo;

use crate::format::track_label;

/// Why a TRACK argument names no single track.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    /// Empty argument.
    #[error("no track given")]
    Empty,
    /// Nothing matches.
    #[error("no track matches '{0}' (by id or title; `library` lists them)")]
    None(String),
    /// Several titles contain it.
    #[error("'{query}' matches {} tracks: {}", .candidates.len(), .candidates.join("; "))]
    Ambiguous {
        /// The argument.
        query: String,
        /// `Artist - Title (id)` of each match.
        candidates: Vec<String>,
    },
}

/// The one track of `library` that `query` names. An id matches exactly; otherwise a title
/// containing `query` (any case) matches, and among several an exact title wins.
pub fn resolve<'a>(query: &str, library: &'a [TrackInfo]) -> Result<&'a TrackInfo, MatchError> {
    let q = query.trim();
    if q.is_empty() {
        return Err(MatchError::Empty);
    }
    if let Ok(id) = TrackId::from_input(q)
        && let Some(t) = library.iter().find(|t| t.id == id.as_str())
    {
        return Ok(t);
    }
    let needle = q.to_lowercase();
    let found: Vec<&TrackInfo> = library
        .iter()
        .filter(|t| t.title.to_lowercase().contains(&needle))
        .collect();
    match found.as_slice() {
        [] => Err(MatchError::None(q.to_owned())),
        [one] => Ok(one),
        many => {
            let exact: Vec<&&TrackInfo> = many
                .iter()
                .filter(|t| t.title.to_lowercase() == needle)
                .collect();
            if let [one] = exact.as_slice() {
                return Ok(one);
            }
            Err(MatchError::Ambiguous {
                query: q.to_owned(),
                candidates: many.iter().map(|t| track_label(t)).collect(),
            })
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn track(id: &str, title: &str, artist: &str) -> TrackInfo {
        TrackInfo {
            id: id.into(),
            title: title.into(),
            artist: artist.into(),
            album: "Album".into(),
            duration_ms: 61_500,
            bitrate_kbps: 192,
            vbr: false,
            size: 1_000_000,
            content_type: "audio/mpeg".into(),
            file: "x.mp3".into(),
        }
    }

    fn library() -> Vec<TrackInfo> {
        vec![
            track("00000000000000a1", "Night Transit", "Vega Lines"),
            track("00000000000000a2", "Glass Avenue", "Vega Lines"),
            track("00000000000000b1", "Night", "Other"),
            track("00000000000000b2", "Harbour Lights", "Slow Meridian"),
            track("00000000000000b3", "Lights Out", "Slow Meridian"),
        ]
    }

    #[test]
    fn by_id_and_by_title() {
        let lib = library();
        assert_eq!(
            resolve("00000000000000A2", &lib).unwrap().title,
            "Glass Avenue"
        );
        assert_eq!(resolve("glass", &lib).unwrap().id, "00000000000000a2");
        assert_eq!(resolve(" TRANSIT ", &lib).unwrap().id, "00000000000000a1");
        // Two titles contain "night", one is exactly it.
        assert_eq!(resolve("night", &lib).unwrap().id, "00000000000000b1");
    }

    #[test]
    fn none_and_ambiguous() {
        let lib = library();
        assert_eq!(
            resolve("polka", &lib),
            Err(MatchError::None("polka".into()))
        );
        assert_eq!(resolve(" ", &lib), Err(MatchError::Empty));
        let err = resolve("lights", &lib).unwrap_err();
        assert_eq!(
            err.to_string(),
            "'lights' matches 2 tracks: Slow Meridian - Harbour Lights (00000000000000b2); \
             Slow Meridian - Lights Out (00000000000000b3)"
        );
        // An id that is not in the library is not a title either.
        assert!(matches!(
            resolve("ffffffffffffffff", &lib),
            Err(MatchError::None(_))
        ));
    }

    #[test]
    fn ids() {
        let is_track_id = |s: &str| TrackId::from_input(s).is_ok();
        assert!(is_track_id("0123456789abcdef"));
        assert!(!is_track_id("0123456789abcdeg"));
        assert!(!is_track_id("0123"));
    }
}
