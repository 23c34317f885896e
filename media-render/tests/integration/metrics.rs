//! `GET /metrics` of the real render, parsed as OpenMetrics: its state, the audio it holds,
//! and a failover (its server killed mid-track) with the gap the render reported.

use grid_proto::media::PlayState;
use grid_proto::scrape::Scrape;
use grid_testkit::metrics::assert_values;

use crate::helper::{LONG, Rig, wait_until};
use crate::render::{kill_current, start};

fn scrape(rig: &Rig) -> Scrape {
    rig.base
        .rt
        .block_on(grid_testkit::metrics::scrape(&rig.base.render_url))
}

fn state(s: &Scrape) -> Vec<&'static str> {
    ["idle", "loaded", "playing", "paused", "stopped", "retrying"]
        .into_iter()
        .filter(|st| s.value("mediarender_state", &[("state", st)]) == Some(1.0))
        .collect()
}

#[test]
fn metrics_show_the_state_the_buffer_and_a_failover() {
    let mut rig = Rig::new(2);
    start(&mut rig, "20", &[]);
    let idle = scrape(&rig);
    assert_eq!(state(&idle), ["idle"]);
    assert_values(
        &idle,
        &[
            ("mediarender_failovers", &[("playing", "track")], 0.0),
            ("mediarender_underruns", &[], 0.0),
            ("mediarender_buffered_seconds", &[], 0.0),
        ],
    );
    assert_eq!(
        idle.histogram("mediarender_failover_gap_seconds", &[])
            .map(|h| h.count),
        Some(0)
    );

    let track = rig.track("long.mp3");
    rig.load(&track);
    rig.act("play");
    let playing = wait_until("audio buffered", LONG, || {
        let s = scrape(&rig);
        (s.value("mediarender_buffered_seconds", &[]).unwrap_or(0.0) > 0.0).then_some(s)
    });
    assert_eq!(state(&playing), ["playing"]);

    let gap_ms = kill_current(&mut rig);
    let s = scrape(&rig);
    assert_values(
        &s,
        &[
            ("mediarender_failovers", &[("playing", "track")], 1.0),
            ("mediarender_failovers", &[("playing", "channel")], 0.0),
        ],
    );
    let gaps = s
        .histogram("mediarender_failover_gap_seconds", &[])
        .unwrap();
    assert_eq!(gaps.count, 1);
    assert!(
        (gaps.sum - gap_ms / 1000.0).abs() < 1e-9,
        "{gaps:?} against {gap_ms} ms"
    );

    rig.wait_event("track_exhausted", 1);
    let status = rig.wait_status("the track over", |s| s.state != PlayState::Playing);
    let s = scrape(&rig);
    assert_values(
        &s,
        &[
            ("mediarender_underruns", &[], f64::from(status.underruns)),
            ("mediarender_buffered_seconds", &[], 0.0),
        ],
    );
    assert_eq!(state(&s).len(), 1, "one state at a time");
    assert_eq!(s.kind("mediarender_underruns").as_deref(), Some("counter"));
}
