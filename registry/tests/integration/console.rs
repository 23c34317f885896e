//! The web console of the real `gridregistry`, over HTTP: the login page and the session
//! cookie, the CSRF token a change needs, logout, and what is served without a session.

use grid_proto::paths;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;

use crate::helper::*;

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The login form sent as admin with `password`.
async fn post_login(http: &reqwest::Client, url: &str, password: &str) -> reqwest::Response {
    http.post(format!("{url}/login"))
        .form(&[("user", "admin"), ("password", password)])
        .send()
        .await
        .unwrap()
}

/// Logs in through the form with the default password, which leads to the password page: the
/// `grid_session=...` pair of the cookie it sets, and the whole `Set-Cookie` line.
async fn log_in(http: &reqwest::Client, url: &str) -> (String, String) {
    let resp = post_login(http, url, "admin").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/password");
    let set = resp.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let pair = set.split(';').next().unwrap().to_owned();
    (pair, set)
}

/// `GET url`, with the session `cookie` if one is given.
async fn get(http: &reqwest::Client, url: String, cookie: Option<&str>) -> reqwest::Response {
    let mut req = http.get(url);
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    req.send().await.unwrap()
}

/// The CSRF token the console page carries.
fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf-token\" content=\"")
        .expect("a csrf meta")
        + 27;
    page[at..at + 64].to_owned()
}

const NEW_PASSWORD: &str = "a password of my own";

/// The given password must be changed before the console opens: the password page refuses a
/// form without its CSRF token, differing new passwords, a wrong current one and a short one,
/// then takes the change and goes on to the console.
async fn choose_own_password(http: &reqwest::Client, url: &str, cookie: &str) {
    let home = get(http, format!("{url}/"), Some(cookie)).await;
    assert_eq!(home.headers()[LOCATION], "/password");
    let page = get(http, format!("{url}/password"), Some(cookie)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("Choose your own before going on."), "{page}");
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    let csrf = page[at..at + 64].to_owned();
    let send = |fields: [(&'static str, String); 4]| {
        http.post(format!("{url}/password"))
            .header(COOKIE, cookie)
            .form(&fields)
            .send()
    };
    let form = |csrf: &str, current: &str, new: &str, confirm: &str| {
        [
            ("csrf", csrf.to_owned()),
            ("current", current.to_owned()),
            ("password", new.to_owned()),
            ("confirm", confirm.to_owned()),
        ]
    };
    for (fields, status, message) in [
        (
            form("", "admin", NEW_PASSWORD, NEW_PASSWORD),
            StatusCode::FORBIDDEN,
            "needs the page&#39;s CSRF token",
        ),
        (
            form(&csrf, "admin", NEW_PASSWORD, "something else"),
            StatusCode::BAD_REQUEST,
            "the two new passwords differ",
        ),
        (
            form(&csrf, "not it", NEW_PASSWORD, NEW_PASSWORD),
            StatusCode::FORBIDDEN,
            "the current password is wrong",
        ),
        (
            form(&csrf, "admin", "short", "short"),
            StatusCode::BAD_REQUEST,
            "it must be at least 8",
        ),
    ] {
        let r = send(fields).await.unwrap();
        assert_eq!(r.status(), status, "{message}");
        let text = r.text().await.unwrap();
        assert!(text.contains(message), "{message}: {text}");
    }
    let done = send(form(&csrf, "admin", NEW_PASSWORD, NEW_PASSWORD))
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(done.headers()[LOCATION], "/");
    assert!(
        login(url, "admin").await.is_err(),
        "the given password is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_cookie_csrf_and_logout() {
    let (_tmp, _data, reg) = fresh(60_000);
    let http = browser();
    let url = &reg.url;

    // Without a session: the login page, the assets, and nothing of the grid.
    let home = get(&http, format!("{url}/"), None).await;
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(home.headers()[LOCATION], "/login");
    let page = get(&http, format!("{url}/login"), None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<form method=\"post\" action=\"/login\"")
    );
    for (asset, kind) in [
        ("console.js", "text/javascript"),
        ("console.css", "text/css"),
    ] {
        let r = get(&http, format!("{url}/static/{asset}"), None).await;
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
        assert!(
            r.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
    }
    let servers = get(&http, format!("{url}{}", paths::SERVERS), None).await;
    assert_eq!(servers.status(), StatusCode::UNAUTHORIZED);

    // A wrong password: the page again, with the message.
    let wrong = post_login(&http, url, "nope").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    let text = wrong.text().await.unwrap();
    assert!(
        text.contains(
            "<p class=\"error\" role=\"alert\" id=\"error\">wrong user name or password</p>"
        ),
        "{text}"
    );

    // The right one: a cookie scripts cannot read, sent to this site only.
    let (cookie, set) = log_in(&http, url).await;
    assert!(
        cookie.starts_with("grid_session=") && cookie.len() == 13 + 48,
        "{set}"
    );
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=3600"] {
        assert!(set.split("; ").any(|a| a == attr), "{attr} in {set}");
    }
    choose_own_password(&http, url, &cookie).await;
    let page = get(&http, format!("{url}/"), Some(&cookie)).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let page = page.text().await.unwrap();
    assert!(page.contains("<span class=\"user\">admin</span>"), "{page}");
    let csrf = csrf_of(&page);

    // The cookie opens the API for reading; a change needs the page's CSRF token too.
    let read = get(&http, format!("{url}{}", paths::SERVERS), Some(&cookie)).await;
    assert_eq!(read.status(), StatusCode::OK);
    let add = |token: Option<&str>| {
        let mut req = http
            .post(format!("{url}{}", paths::APPLICATIONS))
            .header(COOKIE, &cookie)
            .json(&serde_json::json!({ "source": APP }));
        if let Some(t) = token {
            req = req.header("x-csrf-token", t);
        }
        req.send()
    };
    for token in [None, Some("0".repeat(64).as_str())] {
        let refused = add(token).await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{token:?}");
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(
            body["error"],
            "refused: a change from the console needs its CSRF token (x-csrf-token)"
        );
    }
    let admin = login(url, NEW_PASSWORD).await.unwrap();
    let apps: Vec<serde_json::Value> = admin.get(paths::APPLICATIONS).await.unwrap();
    assert!(apps.is_empty(), "a refused change changed nothing");
    let added = add(Some(&csrf)).await.unwrap();
    assert_eq!(added.status(), StatusCode::OK);

    // Logout needs the token as well; then the cookie is cleared and the session is gone.
    let refused = http
        .post(format!("{url}/logout"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let out = http
        .post(format!("{url}/logout"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(out.headers()[LOCATION], "/login?ended=1");
    let cleared = out.headers()[SET_COOKIE].to_str().unwrap();
    assert!(
        cleared.starts_with("grid_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let after = get(&http, format!("{url}/"), Some(&cookie)).await;
    assert_eq!(after.headers()[LOCATION], "/login?expired=1");
    let expired = get(&http, format!("{url}/login?expired=1"), None).await;
    assert!(
        expired
            .text()
            .await
            .unwrap()
            .contains("Your session has expired; log in again.")
    );
    let gone = get(&http, format!("{url}{}", paths::SERVERS), Some(&cookie)).await;
    assert_eq!(gone.status(), StatusCode::UNAUTHORIZED);
}
