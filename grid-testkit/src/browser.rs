//! A headless chromium driven over WebDriver by its chromedriver (Debian's `chromium` and
//! `chromium-driver`), for the console's tests and benchmark: a fresh profile each, no network.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{Killed, free_port, kill9, wait_until};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

pub const LONG: Duration = Duration::from_secs(30);

/// A chromedriver on a free port and a headless chromium session with a fresh profile; both go
/// when it is dropped.
pub struct Browser {
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

/// Headless chromium as root: no sandbox, no background networking (the machine has none).
fn chromium_caps(binary: &Path, profile: &Path) -> Value {
    json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": binary,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-gpu",
                "--window-size=1280,800",
                format!("--user-data-dir={}", profile.display()),
            ],
        },
    })
}

/// Headless Firefox with its own profile and nothing that calls home.
fn firefox_caps(binary: &Path, profile: &Path) -> Value {
    json!({
        "browserName": "firefox",
        "moz:firefoxOptions": {
            "binary": binary,
            "args": ["-headless", "-profile", profile, "--width=1280", "--height=800"],
            "prefs": {
                "app.update.auto": false,
                "app.normandy.enabled": false,
                "browser.safebrowsing.malware.enabled": false,
                "browser.safebrowsing.phishing.enabled": false,
                "browser.shell.checkDefaultBrowser": false,
                "datareporting.policy.dataSubmissionEnabled": false,
                "extensions.update.enabled": false,
                "network.captive-portal-service.enabled": false,
                "network.connectivity-service.enabled": false,
                "toolkit.telemetry.enabled": false,
            },
        },
    })
}

impl Browser {
    /// The browser, or `None` (with a line saying so) where it is not installed; in CI it
    /// must be (`.ci/run` installs chromium). `GRID_BROWSER=firefox` runs Firefox instead
    /// (`firefox-esr` and a `geckodriver` on the PATH).
    pub fn start() -> Option<Self> {
        Self::start_with(&[])
    }

    /// [`Browser::start`] with more browser flags (`--enable-precise-memory-info`).
    pub fn start_with(flags: &[&str]) -> Option<Self> {
        let firefox = std::env::var("GRID_BROWSER").is_ok_and(|b| b == "firefox");
        let (driver, browser) = if firefox {
            ("geckodriver", "firefox-esr")
        } else {
            ("chromedriver", "chromium")
        };
        let (Some(driver), Some(binary)) = (on_path(driver), on_path(browser)) else {
            assert!(
                firefox || std::env::var_os("CI").is_none(),
                "chromium and chromium-driver must be installed in CI"
            );
            eprintln!("console tests skipped: {browser} and {driver} are not installed");
            return None;
        };
        let port = free_port();
        let driver = Killed::quiet(
            Command::new(driver).arg(format!("--port={port}")),
            "the WebDriver server starts",
        );
        wait_until("the WebDriver server listening", LONG, || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        let profile = tempfile::tempdir().expect("a profile folder");
        let mut caps = if firefox {
            firefox_caps(&binary, profile.path())
        } else {
            chromium_caps(&binary, profile.path())
        };
        let options = if firefox {
            "moz:firefoxOptions"
        } else {
            "goog:chromeOptions"
        };
        if let Some(args) = caps[options]["args"].as_array_mut() {
            args.extend(flags.iter().map(|f| Value::from(*f)));
        }
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
            .expect("a browser session");
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

    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("the session is open")
    }

    /// Loads `url`. A renderer busy when the navigation starts can make chromedriver give up
    /// at once ("timed out receiving message from renderer"): that is tried again.
    pub fn goto(&self, url: &str) {
        let mut tries = 0;
        while let Err(e) = self.rt.block_on(self.client().goto(url)) {
            tries += 1;
            assert!(tries < 3, "loading {url}: {e}");
            eprintln!("loading {url} again after: {e}");
        }
    }

    pub fn url(&self) -> String {
        self.rt
            .block_on(self.client().current_url())
            .expect("the page's URL")
            .to_string()
    }

    /// Runs `script` in the page (it may `await`); its value, or the browser's error.
    pub fn try_run(&self, script: &str) -> Result<Value, fantoccini::error::CmdError> {
        let body = format!(
            "const done = arguments[0]; (async () => {{ {script} }})().then(done, e => done('error: ' + e));"
        );
        self.rt.block_on(self.client().execute_async(&body, vec![]))
    }

    /// Runs `script` in the page; its value.
    pub fn run(&self, script: &str) -> Value {
        self.try_run(script).expect("the script runs")
    }

    /// Waits until `script` gives something other than null (or false); that value. A page
    /// still loading (after a form is sent) counts as not yet.
    pub fn wait(&self, what: &str, script: &str) -> Value {
        let deadline = std::time::Instant::now() + LONG;
        loop {
            if let Ok(v) = self.try_run(script)
                && !v.is_null()
                && v != Value::Bool(false)
            {
                return v;
            }
            if std::time::Instant::now() > deadline {
                // What the page says, to tell why.
                let page = self.try_run(
                    "const m = document.getElementById('message'); const v = document.querySelector('.view:not([hidden])'); \
                     return location.href + ' message: ' + (m ? m.textContent : '-') + '\\nview: ' + (v ? v.innerText.slice(0, 2000) : document.body.innerText.slice(0, 500));",
                );
                panic!("timed out after {LONG:?} waiting for {what}; the page: {page:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Resizes the window (a phone is 375 px wide).
    pub fn resize(&self, width: u32, height: u32) {
        self.rt
            .block_on(self.client().set_window_size(width, height))
            .expect("the window is resized");
    }

    /// Shows one of the console's views (`renders`, `library`, ...).
    pub fn show(&self, view: &str) {
        self.wait(
            &format!("the {view} view"),
            &format!(
                "const v = document.getElementById('view-{view}'); if (!v) return null; \
                 location.hash = '#{view}'; return !v.hidden;"
            ),
        );
    }

    /// Sets a text field and lets the page know, as typing would.
    pub fn type_into(&self, css: &str, text: &str) {
        let text = serde_json::to_string(text).expect("a JSON string");
        self.run(&format!(
            "const e = document.querySelector('{css}'); e.value = {text}; e.dispatchEvent(new Event('input')); return 1;"
        ));
    }

    /// Clicks the element `css` (hidden ones too, as a script can).
    pub fn click(&self, css: &str) {
        let found = self.wait(
            &format!("{css} on the page"),
            &format!("const e = document.querySelector('{css}'); if (!e) return null; e.click(); return 1;"),
        );
        assert_eq!(found, 1);
    }

    /// Clicks the element `css` as a person would (a user gesture: a page may then play
    /// audio); it must be on screen.
    pub fn press(&self, css: &str) {
        let c = self.client();
        // A page that draws the element again between the find and the click makes it stale:
        // find it again.
        wait_until(&format!("{css} pressed"), LONG, || {
            self.rt
                .block_on(async { c.find(Locator::Css(css)).await?.click().await })
                .ok()
        });
    }

    /// The text of the element `css`, once there is one.
    pub fn text(&self, css: &str) -> String {
        let v = self.wait(
            &format!("{css} on the page"),
            &format!("const e = document.querySelector('{css}'); return e && e.textContent;"),
        );
        v.as_str().unwrap_or_default().to_owned()
    }

    /// Fills in the login form as `admin` and sends it; returns once the answer's page loaded.
    pub fn log_in(&self, password: &str) {
        self.run("window.beforeLogin = true; return 1;");
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
        self.wait(
            "the page after logging in",
            "return window.beforeLogin === undefined && document.readyState === 'complete';",
        );
    }

    /// A picture of the page, written to `path`.
    pub fn screenshot(&self, path: &std::path::Path) {
        let png = self
            .rt
            .block_on(self.client().screenshot())
            .expect("a screenshot");
        std::fs::write(path, png).expect("the screenshot is written");
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
        for pid in crate::process::descendants(self.driver.id()) {
            kill9(pid);
        }
    }
}
