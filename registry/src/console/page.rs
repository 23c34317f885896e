//! The console's HTML pages (login, password, console), written on the server; the console page fills itself in from
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

/// An error paragraph (`role=alert`), or nothing.
fn alert(error: Option<&str>) -> String {
    error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"error\">{}</p>",
                escape(e)
            )
        })
        .unwrap_or_default()
}

/// The login page, with an error (`role=alert`) or a note.
pub fn login(error: Option<&str>, note: Option<&str>) -> String {
    let error = alert(error);
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

/// The password page: `forced` when the user must choose a new password before going on.
pub fn password(user: &str, csrf: &str, forced: bool, error: Option<&str>) -> String {
    let error = alert(error);
    let why = if forced {
        "<p class=\"note\" id=\"note\">You are using a password you were given. \
         Choose your own before going on.</p>"
    } else {
        ""
    };
    format!(
        "{}</head><body class=\"login\"><main><h1>Change the password of {}</h1>{error}{why}\
         <form method=\"post\" action=\"/password\" id=\"password-form\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>Current password <input name=\"current\" id=\"current\" type=\"password\" \
         autocomplete=\"current-password\" required></label>\
         <label>New password <input name=\"password\" id=\"new-password\" type=\"password\" \
         autocomplete=\"new-password\" minlength=\"{min}\" required></label>\
         <label>Repeat it <input name=\"confirm\" id=\"confirm\" type=\"password\" \
         autocomplete=\"new-password\" required></label>\
         <button type=\"submit\">Change the password</button></form></main></body></html>\n",
        head("Spotifice Grid: change password"),
        escape(user),
        min = grid_proto::access::MIN_PASSWORD,
    )
}

/// The views, in the order of the tabs: (id, tab label).
const VIEWS: [(&str, &str); 7] = [
    ("overview", "Overview"),
    ("applications", "Applications"),
    ("servers", "Servers"),
    ("adapters", "Adapters"),
    ("channels", "Channels"),
    ("renders", "Renders"),
    ("library", "Library"),
];

/// The console for `user`; `csrf` goes with every change the page asks for. The views are
/// empty frames the script fills in from the event stream.
pub fn console(user: &str, csrf: &str) -> String {
    let tabs: String = VIEWS
        .iter()
        .map(|(id, label)| format!("<a href=\"#{id}\" id=\"tab-{id}\">{label}</a>"))
        .collect();
    format!(
        "{}<meta name=\"csrf-token\" content=\"{csrf}\">\
         <script type=\"module\" src=\"/static/console.js\"></script></head><body>\
         <header><h1>Spotifice Grid</h1><span id=\"live\" class=\"live\">connecting…</span>\
         <form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <span class=\"user\">{}</span> <a href=\"/password\" id=\"change-password\">Change password</a> \
         <button type=\"submit\" id=\"logout\">Log out</button></form></header>\
         <nav id=\"tabs\">{tabs}</nav>\
         <div id=\"player\" hidden><span id=\"player-what\"></span> \
         <audio id=\"audio\" controls preload=\"none\"></audio> \
         <button id=\"player-stop\">Stop listening</button></div>\
         <p id=\"message\" class=\"error\" role=\"alert\" hidden></p>\
         <main>{OVERVIEW}{APPLICATIONS}{SERVERS}{ADAPTERS}{CHANNELS}{RENDERS}{LIBRARY}</main>\
         </body></html>\n",
        head("Spotifice Grid"),
        escape(user)
    )
}

const OVERVIEW: &str = "<div class=\"view\" id=\"view-overview\">\
    <section><h2>Registry</h2><dl id=\"registry\"></dl><p id=\"counts\"></p></section>\
    <section><h2>Nodes</h2><table id=\"nodes\"><thead><tr><th>Node</th><th>State</th>\
    <th>Host</th><th>OS</th><th>CPUs</th><th>Load</th><th>Memory</th><th>Last heartbeat</th>\
    </tr></thead><tbody></tbody></table></section>\
    <section><h2>Recent events</h2><ol id=\"events\" reversed></ol></section></div>";

const APPLICATIONS: &str = "<div class=\"view\" id=\"view-applications\" hidden>\
    <section><h2>Applications</h2><table id=\"applications\"><thead><tr><th>Application</th>\
    <th>Serial</th><th>Servers</th><th>Last update</th><th></th></tr></thead><tbody></tbody>\
    </table><p id=\"app-confirm\" class=\"confirm\" hidden></p></section>\
    <section id=\"app-detail\" hidden><h2 id=\"app-detail-title\"></h2>\
    <div id=\"app-detail-servers\"></div><pre id=\"app-source\" class=\"source\"></pre></section>\
    <section><h2 id=\"app-edit-title\">Add or update an application</h2>\
    <p>Paste a descriptor (TOML, JSON or IceGrid XML) or pick a file; the change is shown \
    before it is applied.</p><input type=\"file\" id=\"app-file\" accept=\".toml,.json,.xml,text/*\">\
    <textarea id=\"app-text\" rows=\"12\" spellcheck=\"false\"></textarea>\
    <p><button id=\"app-preview\">Show the change</button></p>\
    <div id=\"app-diff\" hidden></div></section></div>";

const SERVERS: &str = "<div class=\"view\" id=\"view-servers\" hidden>\
    <section><h2>Servers</h2><p class=\"tools\"><input id=\"server-filter\" type=\"search\" \
    placeholder=\"filter: id, application, node, state\"> <span id=\"server-shown\"></span></p>\
    <div id=\"servers\" class=\"rows\" role=\"table\"><div class=\"row head\" role=\"row\">\
    <span role=\"columnheader\" data-sort=\"id\">Server</span>\
    <span role=\"columnheader\" data-sort=\"application\">Application</span>\
    <span role=\"columnheader\" data-sort=\"node\">Node</span>\
    <span role=\"columnheader\" data-sort=\"state\">State</span>\
    <span role=\"columnheader\" data-sort=\"pid\">Pid</span>\
    <span role=\"columnheader\" data-sort=\"uptime\">Uptime</span>\
    <span role=\"columnheader\" data-sort=\"restarts\">Restarts</span>\
    <span role=\"columnheader\">Last exit</span>\
    <span role=\"columnheader\" data-sort=\"activation\">Activation</span>\
    <span role=\"columnheader\"></span></div><div class=\"body\" role=\"rowgroup\"></div></div></section>\
    <section id=\"log\" hidden><h2 id=\"log-title\"></h2><p class=\"tools\">\
    <label><input type=\"checkbox\" id=\"log-stderr\"> stderr</label> \
    <button id=\"log-close\">Close</button> <span id=\"log-state\"></span></p>\
    <pre id=\"log-text\" class=\"source\"></pre></section></div>";

const ADAPTERS: &str = "<div class=\"view\" id=\"view-adapters\" hidden>\
    <section><h2>Replica groups</h2><table id=\"groups\"><thead><tr><th>Group</th>\
    <th>Application</th><th>Policy</th><th>Replicas</th><th>Live endpoints</th></tr></thead>\
    <tbody></tbody></table></section>\
    <section><h2>Adapters</h2><table id=\"adapters\"><thead><tr><th>Adapter</th><th>Server</th>\
    <th>Node</th><th>Replica group</th><th>Endpoint</th></tr></thead><tbody></tbody></table>\
    </section></div>";

const CHANNELS: &str = "<div class=\"view\" id=\"view-channels\" hidden>\
    <section><h2>Channels</h2><p class=\"tools\"><button id=\"channels-refresh\">Refresh</button> \
    <span id=\"channels-state\"></span></p><table id=\"channels\"><thead><tr><th>MediaServer</th>\
    <th>Channel</th><th>Source</th><th>Listeners</th><th>Peak</th><th>Title</th><th>Children</th>\
    <th></th></tr></thead><tbody></tbody></table></section></div>";

const RENDERS: &str = "<div class=\"view\" id=\"view-renders\" hidden>\
    <section><h2>Renders</h2><div id=\"renders\" class=\"cards\"></div></section>\
</div>";

const LIBRARY: &str = "<div class=\"view\" id=\"view-library\" hidden>\
    <section><h2>Library</h2><p class=\"tools\"><input id=\"library-search\" type=\"search\" \
    placeholder=\"search title or artist\"> <label>Render <select id=\"library-render\"></select>\
    </label> <span id=\"library-shown\"></span></p><table id=\"library\"><thead><tr><th>Title</th>\
    <th>Artist</th><th>Album</th><th>Duration</th><th>Bitrate</th><th></th></tr></thead>\
    <tbody></tbody></table></section></div>";

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
        assert!(password("<u>", "c0ffee", true, Some("<i>")).contains("&lt;i&gt;"));
    }
}
