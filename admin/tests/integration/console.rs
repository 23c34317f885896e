//! The web console in a real browser: Debian's chromium, headless, driven over WebDriver by its
//! chromedriver, against a real grid. The page is never reloaded while the grid changes: what it
//! shows comes from the registry's event stream.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use grid_testkit::{Grid, Killed, free_port, kill9, wait_until};
use serde_json::{Value, json};

const LONG: Duration = Duration::from_secs(30);

/// A chromedriver on a free port and a headless chromium session with a fresh profile; both go
/// when it is dropped.
struct Browser {
    /// Its own runtime, whose worker drives the WebDriver session between calls.
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Killed,
    _profile: tempfile::TempDir,
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file())
}

impl Browser {
    /// The browser, or `None` (with a line saying so) where chromium is not installed; in CI it
    /// must be (`.ci/run` installs it).
    fn start() -> Option<Self> {
        let (Some(driver), Some(chromium)) = (on_path("chromedriver"), on_path("chromium")) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "chromium and chromium-driver must be installed in CI"
            );
            eprintln!("console tests skipped: chromium and chromium-driver are not installed");
            return None;
        };
        let port = free_port();
        let driver = Killed::quiet(
            Command::new(driver).arg(format!("--port={port}")),
            "chromedriver starts",
        );
        wait_until("chromedriver listening", LONG, || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        let profile = tempfile::tempdir().expect("a profile folder");
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-background-networking",
                    "--disable-gpu",
                    "--window-size=1280,800",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!("a JSON object")
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let client = rt
            .block_on(
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps)
                    .connect(&format!("http://127.0.0.1:{port}")),
            )
            .expect("a chromium session");
        // A script whose page navigates away never answers: give up on it soon and try again.
        let timeouts = fantoccini::wd::TimeoutConfiguration::new(
            Some(Duration::from_secs(5)),
            Some(LONG),
            None,
        );
        rt.block_on(client.update_timeouts(timeouts))
            .expect("the session's timeouts");
        Some(Self {
            rt,
            client: Some(client),
            driver,
            _profile: profile,
        })
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("the session is open")
    }

    fn goto(&self, url: &str) {
        self.rt
            .block_on(self.client().goto(url))
            .expect("the page loads");
    }

    fn url(&self) -> String {
        self.rt
            .block_on(self.client().current_url())
            .expect("the page's URL")
            .to_string()
    }

    /// Runs `script` in the page (it may `await`); its value, or the browser's error.
    fn try_run(&self, script: &str) -> Result<Value, fantoccini::error::CmdError> {
        let body = format!(
            "const done = arguments[0]; (async () => {{ {script} }})().then(done, e => done('error: ' + e));"
        );
        self.rt.block_on(self.client().execute_async(&body, vec![]))
    }

    /// Runs `script` in the page; its value.
    fn run(&self, script: &str) -> Value {
        self.try_run(script).expect("the script runs")
    }

    /// Waits until `script` gives something other than null (or false); that value. A page
    /// still loading (after a form is sent) counts as not yet.
    fn wait(&self, what: &str, script: &str) -> Value {
        wait_until(what, LONG, || {
            let v = self.try_run(script).ok()?;
            (!v.is_null() && v != Value::Bool(false)).then_some(v)
        })
    }

    fn log_in(&self, password: &str) {
        let c = self.client();
        self.rt
            .block_on(async {
                c.find(Locator::Id("user"))
                    .await?
                    .send_keys("admin")
                    .await?;
                c.find(Locator::Id("password"))
                    .await?
                    .send_keys(password)
                    .await?;
                c.find(Locator::Css("#login button")).await?.click().await
            })
            .expect("the login form is filled in");
    }

    /// A picture of the page, for the README.
    fn screenshot(&self, name: &str) {
        let png = self
            .rt
            .block_on(self.client().screenshot())
            .expect("a screenshot");
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&path, png).expect("the screenshot is written");
        eprintln!("screenshot: {}", path.display());
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing the session ends chromium; whatever of it is left, and then chromedriver, is
        // killed by pid.
        if let Some(c) = self.client.take() {
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(LONG, c.close()).await });
        }
        for pid in grid_testkit::process::descendants(self.driver.id()) {
            kill9(pid);
        }
    }
}

/// The text of server `id`'s cell `field` (`state`, `pid`), or null while there is no row.
fn cell(id: &str, field: &str) -> String {
    format!(
        "const c = document.querySelector('#server-{id} td[data-field={field}]'); return c ? c.textContent : null;"
    )
}

#[test]
fn the_console_logs_in_follows_the_grid_live_and_guards_its_changes() {
    let mut grid = Grid::new();
    grid.start_node("node1");
    grid.start_node("node2");
    let Some(browser) = Browser::start() else {
        return;
    };
    grid.deploy(&grid_testkit::app::four_servers("media").toml());
    let ids = [
        "MediaServer-1",
        "MediaRender-1",
        "MediaServer-2",
        "MediaRender-2",
    ];
    for id in ids {
        grid.wait_active(id, None);
    }
    let url = grid.url().to_owned();

    // No session: the login page; a wrong password is said there.
    browser.goto(&format!("{url}/"));
    assert_eq!(browser.url(), format!("{url}/login"));
    browser.log_in("wrong");
    let error = browser.wait(
        "the login error",
        "const e = document.getElementById('error'); return e && e.textContent;",
    );
    assert_eq!(error, "wrong user name or password");

    // Logged in: the four servers active, from the snapshot.
    browser.log_in("admin");
    for id in ids {
        let state = browser.wait(&format!("{id} on the page"), &cell(id, "state"));
        assert_eq!(state, "active", "{id}");
    }
    browser.screenshot("console-overview.png");

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
