//! The web console in a real browser: Debian's chromium, headless, driven over WebDriver by its
//! chromedriver, against a real grid. The page is never reloaded while the grid changes: what it
//! shows comes from the registry's event stream.

mod applications;
mod listener;
mod servers;

use grid_testkit::browser::Browser;

/// The servers of `four_servers`.
const FOUR: [&str; 4] = [
    "MediaServer-1",
    "MediaRender-1",
    "MediaServer-2",
    "MediaRender-2",
];

/// A registry with two nodes, and a browser (`None` where there is none).
fn two_nodes() -> Option<(Grid, Browser)> {
    let mut grid = Grid::new();
    grid.start_node("node1");
    grid.start_node("node2");
    let browser = Browser::start()?;
    Some((grid, browser))
}

/// [`two_nodes`] running `app`'s four servers, all active, the browser on the console's address.
fn four_servers_up(app: &str) -> Option<(Grid, Browser)> {
    let (grid, browser) = two_nodes()?;
    grid.deploy(app);
    for id in FOUR {
        grid.wait_active(id, None);
    }
    browser.goto(&format!("{}/", grid.url()));
    Some((grid, browser))
}

/// Where a file of the console tests goes: the screenshots for the README (copied into `docs/`
/// by hand, after a look).
fn scratch(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}
use grid_testkit::{Grid, kill9};

/// The text of server `id`'s cell `field` (`state`, `pid`), or null while there is no row.
fn cell(id: &str, field: &str) -> String {
    format!(
        "const c = document.querySelector('#server-{id} [data-field={field}]'); return c ? c.textContent : null;"
    )
}

#[test]
fn the_console_logs_in_follows_the_grid_live_and_guards_its_changes() {
    let Some((mut grid, browser)) =
        four_servers_up(&grid_testkit::app::four_servers("media").toml())
    else {
        return;
    };
    let url = grid.url().to_owned();

    // No session: the login page; a wrong password is said there.
    assert_eq!(browser.url(), format!("{url}/login"));
    browser.log_in("wrong");
    let error = browser.wait(
        "the login error",
        "const e = document.getElementById('error'); return e && e.textContent;",
    );
    assert_eq!(error, "wrong user name or password");

    // Logged in: the four servers active, from the snapshot.
    browser.log_in("admin");
    for id in FOUR {
        let state = browser.wait(&format!("{id} on the page"), &cell(id, "state"));
        assert_eq!(state, "active", "{id}");
    }

    // Stop from the page: it shows inactive.
    browser.run("document.querySelector('#server-MediaServer-1 button[data-action=stop]').click(); return 1;",
    );
    browser.wait(
        "MediaServer-1 inactive on the page",
        &format!(
            "return ({})() === 'inactive';",
            cell_fn("MediaServer-1", "state")
        ),
    );

    // kill -9 from here: the page shows it leave and come back with a new pid, unreloaded.
    browser.run("window.unreloaded = true; return 1;");
    let old = grid.wait_active("MediaServer-2", None);
    kill9(old);
    let new = grid.wait_active("MediaServer-2", Some(old));
    browser.wait(
        "the new pid on the page",
        &format!(
            "return ({})() === '{new}';",
            cell_fn("MediaServer-2", "pid")
        ),
    );
    browser.show("overview");
    browser.screenshot(&scratch("console-overview.png"));
    let events = browser
        .run("return window.unreloaded === true && document.getElementById('events').textContent;");
    let events = events.as_str().expect("the page was not reloaded");
    assert!(events.contains("MediaServer-2 inactive"), "{events}");
    assert!(
        events.contains(&format!("MediaServer-2 active (pid {new})")),
        "{events}"
    );

    // A change without the page's CSRF token is refused, even with the session cookie.
    let status = browser.run("const r = await fetch('/v1/servers/MediaServer-1/start', {method: 'POST'}); return r.status;",
    );
    assert_eq!(status, 403);
    assert_eq!(
        grid.server("MediaServer-1").map(|s| s.runtime.state),
        Some(grid_proto::api::ServerState::Inactive)
    );

    // On a phone's width every view fits: wide tables scroll inside their own box.
    browser.resize(375, 800);
    for view in [
        "overview",
        "applications",
        "servers",
        "adapters",
        "channels",
        "renders",
        "library",
    ] {
        browser.show(view);
        let fits = browser.wait(
            &format!("the {view} view at 375 px"),
            "return window.innerWidth < 500 && [document.documentElement.scrollWidth, window.innerWidth];",
        );
        assert!(fits[0].as_u64() <= fits[1].as_u64(), "{view}: {fits}");
    }
    browser.show("servers");
    browser.screenshot(&scratch("console-phone.png"));
    browser.resize(1280, 800);

    // The registry restarts: the page reconnects by itself, takes the new snapshot, says so.
    let addr = grid.registry_addr().to_owned();
    grid.kill_registry();
    browser.wait(
        "the page to see the registry gone",
        "return document.getElementById('live').classList.contains('off');",
    );
    grid.start_registry(&addr);
    browser.wait(
        "the reconnection said",
        "return document.getElementById('live').classList.contains('on') && document.getElementById('events').textContent.includes('reconnected to the registry');",
    );

    // Logged out: back to the login page, and no data for the old cookie.
    browser.run("document.getElementById('logout').click(); return 1;");
    browser.wait(
        "the login page after logout",
        "return location.pathname === '/login' && document.getElementById('note') !== null;",
    );
    let status = browser.run("const r = await fetch('/v1/servers'); return r.status;");
    assert_eq!(status, 401);
}

/// A function expression that gives server `id`'s cell `field`.
fn cell_fn(id: &str, field: &str) -> String {
    format!("() => {{ {} }}", cell(id, field))
}
