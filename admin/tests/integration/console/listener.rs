//! The listener's views on a real grid: a track found in the library browser and played on a
//! render, its progress bar moving, and the failover mark when its MediaServer is killed while
//! playback goes on.

use grid_testkit::app::{four_servers_of, media_render, media_server};
use grid_testkit::kill9;
use serde_json::Value;

use grid_testkit::browser::Browser;

const RENDER: &str = "#render-MediaRender-1";

/// One playlist channel on every MediaServer.
const CHANNELS: &str =
    "[[channel]]\nname = \"lounge\"\ndescription = \"Ambient\"\nplaylist = [\"Harbour Lights\"]\n";

/// The render card's field `name`.
fn field(name: &str) -> String {
    format!("{RENDER} [data-field={name}]")
}

/// The progress bar's position (ms), as the page shows it.
fn position(browser: &Browser) -> f64 {
    let v = browser.wait(
        "the progress bar",
        &format!(
            "const b = document.querySelector('{}'); return b && b.dataset.position ? Number(b.dataset.position) : null;",
            field("progress")
        ),
    );
    v.as_f64().unwrap_or_default()
}

fn wait_position_past(browser: &Browser, past: f64) -> f64 {
    let v = browser.wait(
        &format!("the progress bar past {past} ms"),
        &format!(
            "const b = document.querySelector('{}'); const p = b ? Number(b.dataset.position) : 0; return p > {past} ? p : null;",
            field("progress")
        ),
    );
    v.as_f64().unwrap_or_default()
}

#[test]
fn a_track_from_the_library_plays_on_a_render_and_its_failover_is_marked() {
    let library = crate::media::library().display().to_string();
    let channels = super::scratch("console-channels.toml");
    std::fs::write(&channels, CHANNELS).expect("the channels file");
    let channels = channels.display().to_string();
    let media = media_server(&["--library", &library, "--channels", &channels]);
    let app = four_servers_of(media, media_render(&[]));
    let Some((grid, browser)) = super::four_servers_up(&app.toml()) else {
        return;
    };
    browser.log_in("admin");

    // The library browser: search, then play on MediaRender-1.
    browser.show("library");
    browser.wait(
        "the library's tracks",
        "return document.querySelectorAll('#library tbody tr').length > 1;",
    );
    browser.type_into("#library-search", "long swell");
    let rows = browser.wait(
        "one track found",
        "const r = document.querySelectorAll('#library tbody tr'); return r.length === 1 ? r[0].textContent : null;",
    );
    assert!(
        rows.as_str().unwrap_or_default().contains("Slow Meridian"),
        "{rows}"
    );
    browser.wait(
        "MediaRender-1 to pick",
        "const s = document.getElementById('library-render'); s.value = 'MediaRender-1'; return s.value === 'MediaRender-1';",
    );
    browser.click("#library tbody tr button[data-action=play-on]");

    // The render view: playing, the track named, the bar moving.
    browser.show("renders");
    browser.wait(
        "MediaRender-1 playing",
        &format!(
            "const e = document.querySelector('{}'); return e && e.textContent === 'playing';",
            field("state")
        ),
    );
    let track = browser.text(&field("track"));
    assert_eq!(track, "The Long Swell · Slow Meridian · Tidal Rooms");
    let first = position(&browser);
    let moved = wait_position_past(&browser, first + 1500.0);

    // A track added to its queue is listed on the card.
    browser.wait(
        "the library in the card's track list",
        &format!("const s = document.querySelector('{}'); s.value = s.options[0] && s.options[0].value; return Boolean(s.value);", field("tracks")),
    );
    browser.click(&format!("{RENDER} button[data-action=enqueue]"));
    let queued = browser.wait(
        "one track queued",
        &format!("const q = document.querySelectorAll('{} li'); return q.length === 1 ? q[0].textContent : null;", field("queue")),
    );
    assert_eq!(queued, "Basement Hours by Floor Theory");

    // kill -9 the MediaServer it plays from: the failover is marked and playback goes on.
    let server = browser.text(&field("server"));
    let from = server
        .strip_prefix("MediaServer: ")
        .and_then(|s| s.split(' ').next())
        .unwrap_or_default()
        .to_owned();
    assert!(from.starts_with("MediaServer-"), "{server}");
    let pid = grid.wait_active(&from, None);
    kill9(pid);
    let mark = browser.wait(
        "the failover mark",
        &format!(
            "const e = document.querySelector('{}'); return e && e.classList.contains('fresh') ? e.textContent : null;",
            field("failover")
        ),
    );
    let mark = mark.as_str().unwrap_or_default().to_owned();
    assert!(
        mark.starts_with(&format!("failover {from} → MediaServer-")),
        "{mark}"
    );
    let ticks = browser.run(&format!(
        "return document.querySelectorAll('{} .tick').length;",
        field("ticks")
    ));
    assert_eq!(ticks, 1, "one mark on the progress bar");
    browser.screenshot(&super::scratch("console-render.png"));
    // Its own status: still playing, the failover counted, the position moving on.
    let status = |browser: &Browser| {
        browser.run(
            "const r = await fetch('/v1/gateway/MediaRender-1.Adapter/v1/status'); return await r.json();",
        )
    };
    let after = status(&browser);
    assert_eq!(after["state"], Value::from("playing"), "{after}");
    assert!(after["failovers"].as_u64() >= Some(1), "{after}");
    let at = after["position_ms"].as_u64().unwrap_or_default();
    browser.wait(
        "the render playing on past the failover",
        &format!(
            "const r = await fetch('/v1/gateway/MediaRender-1.Adapter/v1/status'); const s = await r.json(); return s.state === 'playing' && s.position_ms > {at} + 1000;"
        ),
    );
    assert!(moved > first);
    browser.click(&format!("{RENDER} button[data-action=clear-queue]"));
    browser.wait(
        "the queue cleared",
        &format!(
            "return document.querySelectorAll('{} li').length === 0;",
            field("queue")
        ),
    );

    // The channels of both MediaServers; one played on MediaRender-2, and here in the page.
    browser.show("channels");
    for server in ["MediaServer-1", "MediaServer-2"] {
        let row = browser.text(&format!("#channel-{server}-lounge"));
        assert!(
            row.contains("lounge (playlist)") && row.contains("playing"),
            "{row}"
        );
    }
    browser.show("renders");
    browser.wait(
        "the channel offered to MediaRender-2",
        "const s = document.querySelector('#render-MediaRender-2 [data-field=channels]'); return s && s.options.length === 1;",
    );
    browser.click("#render-MediaRender-2 button[data-action=channel]");
    browser.wait(
        "MediaRender-2 on the channel",
        "const t = document.querySelector('#render-MediaRender-2 [data-field=track]'); return t.textContent.startsWith('channel lounge');",
    );
    browser.show("channels");
    browser.press("#channel-MediaServer-1-lounge button[data-action=listen]");
    browser.wait(
        "the channel playing in the page",
        "const a = document.getElementById('audio'); return !a.paused && a.currentTime > 1;",
    );
}
