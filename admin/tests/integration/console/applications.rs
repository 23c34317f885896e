//! The applications view on a real grid: a descriptor pasted into the page is shown as a change
//! before it is applied, an update as a line diff and the servers it restarts, a bad one as the
//! registry's message, and removal only after a confirmation.

use grid_testkit::App;
use grid_testkit::app::{four_servers, four_servers_of, media_render, media_server};

use grid_testkit::browser::Browser;

/// Four servers whose renders buffer less than `four_servers`'s.
fn updated() -> App {
    four_servers_of(
        media_server(&["--library", "media"]),
        media_render(&["--buffer-ms", "2000"]),
    )
}

/// The change the page shows for `source`, nothing applied yet.
fn preview(browser: &Browser, source: &str) -> String {
    browser.type_into("#app-text", source);
    browser.click("#app-preview");
    diff_text(browser)
}

fn diff_text(browser: &Browser) -> String {
    let v = browser.wait(
        "the change shown",
        "const d = document.getElementById('app-diff'); return d.hidden ? null : d.textContent;",
    );
    v.as_str().unwrap_or_default().to_owned()
}

#[test]
fn applications_are_added_updated_and_removed_with_the_change_shown_first() {
    let Some((grid, browser)) = super::two_nodes() else {
        return;
    };
    browser.goto(&format!("{}/", grid.url()));
    browser.log_in("admin");
    browser.show("applications");

    // A broken descriptor: the registry's own words, nothing deployed.
    browser.type_into("#app-text", "name = \"Broken\"\n[[servers]]\nid = 3\n");
    browser.click("#app-preview");
    let message = browser.wait(
        "the error message",
        "const m = document.getElementById('message'); return m.hidden ? null : m.textContent;",
    );
    let message = message.as_str().unwrap_or_default().to_owned();
    assert!(message.starts_with("the descriptor: "), "{message}");
    assert!(!message.contains('{'), "no raw JSON: {message}");

    // Added: the four servers listed before, deployed after.
    let change = preview(&browser, &four_servers("media").toml());
    assert!(change.starts_with("Add Spotifice"), "{change}");
    assert!(
        change.contains("4 added: MediaServer-1, MediaRender-1, MediaServer-2, MediaRender-2"),
        "{change}"
    );
    assert_eq!(
        grid.servers().map(|s| s.len()),
        Some(0),
        "nothing applied yet"
    );
    browser.click("#app-diff button[data-action=apply]");
    for id in ["MediaServer-1", "MediaRender-2"] {
        grid.wait_active(id, None);
    }
    browser.wait(
        "the application listed",
        "const r = document.getElementById('app-Spotifice'); return r && r.children[1].textContent === '1';",
    );

    // An update: the line diff and the servers it restarts; cancelled, nothing changes.
    browser.click("#app-Spotifice button[data-action=edit]");
    browser.wait(
        "the source in the editor",
        "return document.getElementById('app-text').value.includes('Spotifice');",
    );
    let change = preview(&browser, &updated().toml());
    assert!(change.starts_with("Update Spotifice"), "{change}");
    assert!(
        change.contains("2 changed (restarted): MediaRender-1, MediaRender-2"),
        "{change}"
    );
    let added = browser.text("#app-line-diff .added");
    assert!(added.contains("--buffer-ms"), "{added}");
    browser.click("#app-diff button[data-action=cancel]");
    assert_eq!(grid.applications().expect("the applications")[0].serial, 1);

    // Applied: serial 2. Removed after the confirmation only.
    browser.click("#app-preview");
    diff_text(&browser);
    browser.click("#app-diff button[data-action=apply]");
    browser.wait(
        "serial 2 listed",
        "const r = document.getElementById('app-Spotifice'); return r && r.children[1].textContent === '2';",
    );
    browser.click("#app-Spotifice button[data-action=remove]");
    let confirm = browser.text("#app-confirm");
    assert!(
        confirm.starts_with("Remove Spotifice and stop its 4 servers?"),
        "{confirm}"
    );
    assert_eq!(grid.applications().expect("the applications").len(), 1);
    browser.click("#app-confirm button[data-action=confirm-remove]");
    browser.wait(
        "no application listed",
        "return document.querySelectorAll('#applications tbody tr').length === 0;",
    );
    assert!(grid.applications().expect("the applications").is_empty());
}
