//! The servers and adapters views on a real grid: filter and sort, disable and enable, a signal
//! sent from the page and the log tail that follows what the server writes after it.

/// The ids of the rows shown, in order.
const SHOWN: &str = "return [...document.querySelectorAll('#servers .body .row')].filter(r => !r.hidden).map(r => r.children[0].textContent).join(' ');";

#[test]
fn servers_are_filtered_sorted_signalled_and_their_log_followed() {
    let Some((grid, browser)) =
        super::four_servers_up(&grid_testkit::app::four_servers("media").toml())
    else {
        return;
    };
    browser.log_in("admin");
    browser.show("servers");
    browser.wait(
        "four rows",
        "return document.querySelectorAll('#servers .body .row').length === 4;",
    );

    // Filter by words of any column; sort by clicking a header, twice to reverse.
    browser.type_into("#server-filter", "render node2");
    browser.wait(
        "only MediaRender-2",
        &format!("return ({})() === 'MediaRender-2';", fn_of(SHOWN)),
    );
    assert_eq!(browser.text("#server-shown"), "1 of 4 servers");
    browser.type_into("#server-filter", "");
    browser.click("#servers [data-sort=node]");
    browser.click("#servers [data-sort=node]");
    let order = browser.run(SHOWN);
    assert_eq!(
        order,
        "MediaRender-2 MediaServer-2 MediaRender-1 MediaServer-1"
    );

    // Disabled, then enabled again, from the page.
    browser.click("#server-MediaRender-2 button[data-action=disable]");
    browser.wait(
        "MediaRender-2 disabled",
        "const c = document.querySelector('#server-MediaRender-2 [data-field=state]'); return c && c.textContent.endsWith('(disabled)');",
    );
    assert_eq!(grid.server("MediaRender-2").map(|s| s.enabled), Some(false));
    browser.click("#server-MediaRender-2 button[data-action=enable]");
    browser.wait(
        "MediaRender-2 enabled",
        "const c = document.querySelector('#server-MediaRender-2 [data-field=state]'); return c && c.textContent === 'active';",
    );

    // The log tail follows what a SIGHUP makes MediaServer-1 write.
    browser.click("#server-MediaServer-1 button[data-action=log]");
    browser.wait(
        "the log's first lines",
        "return document.getElementById('log-text').textContent.includes('listening');",
    );
    browser.click("#server-MediaServer-1 button[data-action=signal-pick]");
    browser.run("document.querySelector('#server-MediaServer-1 select[data-action=signal-name]').value = 'SIGHUP'; return 1;");
    browser.click("#server-MediaServer-1 button[data-action=signal]");
    browser.wait(
        "the rescan in the log",
        "return document.getElementById('log-text').textContent.includes('SIGHUP: rescanning the library');",
    );

    // The adapters and the group, with their live endpoints and the group's policy.
    browser.show("adapters");
    let group = browser.text("#group-MediaServerGroup");
    assert!(group.contains("round-robin"), "{group}");
    let endpoint = browser.text("#adapter-MediaServer-1\\\\.Adapter td[data-field=endpoint]");
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
}

fn fn_of(body: &str) -> String {
    format!("() => {{ {body} }}")
}
