//! The console's two HTML pages, written on the server; the console page fills itself in from
//! the event stream (`assets/console.js`).

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// `text` made safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An HTML page, never cached (it holds a session's token).
pub fn html(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn head(title: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><link rel=\"stylesheet\" href=\"/static/console.css\">",
        escape(title)
    )
}

/// The login page, with an error (`role=alert`) or a note.
pub fn login(error: Option<&str>, note: Option<&str>) -> String {
    let error = error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"error\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default();
    let note = note
        .map(|n| format!("<p class=\"note\" id=\"note\">{}</p>", escape(n)))
        .unwrap_or_default();
    format!(
        "{}</head><body class=\"login\"><main><h1>Spotifice Grid</h1>{error}{note}\
         <form method=\"post\" action=\"/login\" id=\"login\">\
         <label>User <input name=\"user\" id=\"user\" autocomplete=\"username\" required></label>\
         <label>Password <input name=\"password\" id=\"password\" type=\"password\" \
         autocomplete=\"current-password\" required></label>\
         <button type=\"submit\">Log in</button></form></main></body></html>\n",
        head("Spotifice Grid: log in")
    )
}

/// The console for `user`; `csrf` goes with every change the page asks for.
pub fn console(user: &str, csrf: &str) -> String {
    format!(
        "{}<meta name=\"csrf-token\" content=\"{csrf}\">\
         <script src=\"/static/console.js\" defer></script></head><body>\
         <header><h1>Spotifice Grid</h1><span id=\"live\" class=\"live\">connecting…</span>\
         <form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <span class=\"user\">{}</span> <button type=\"submit\" id=\"logout\">Log out</button></form></header>\
         <p id=\"message\" class=\"error\" role=\"alert\" hidden></p>\
         <main>\
         <section id=\"overview\"><h2>Overview</h2><dl id=\"registry\"></dl><p id=\"counts\"></p></section>\
         <section><h2>Nodes</h2><table id=\"nodes\"><thead><tr><th>Node</th><th>State</th>\
         <th>Host</th><th>OS</th><th>CPUs</th><th>Load</th><th>Last heartbeat</th></tr></thead>\
         <tbody></tbody></table></section>\
         <section><h2>Servers</h2><table id=\"servers\"><thead><tr><th>Server</th>\
         <th>Application</th><th>Node</th><th>State</th><th>Pid</th><th>Restarts</th>\
         <th>Last exit</th><th>Activation</th><th></th></tr></thead><tbody></tbody></table></section>\
         <section><h2>Recent events</h2><ol id=\"events\" reversed></ol></section>\
         </main></body></html>\n",
        head("Spotifice Grid"),
        escape(user)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_outside_cannot_make_markup() {
        assert_eq!(
            escape("<b a=\"x\">'&'</b>"),
            "&lt;b a=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;"
        );
        assert!(login(Some("<script>"), None).contains("&lt;script&gt;"));
        assert!(console("<u>", "c0ffee").contains("&lt;u&gt;"));
    }
}
