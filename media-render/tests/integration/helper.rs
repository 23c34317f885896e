//! The rig: real `media-server` processes over a library of MP3s encoded in process, a fake
//! registry-and-node (locate answers from a list the test controls; events collected), and the
//! real `media-render`. Every child is killed by pid when the rig is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use grid_proto::media::{RenderStatus, TrackInfo};
use media_synth::mp3;
use sha2::{Digest, Sha256};

use crate::fake::Base;

/// Nothing here waits this long when things work.
pub const LONG: Duration = Duration::from_secs(60);

pub use grid_testkit::{bin, wait_until};

/// SHA-256 in hex.
pub fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A test track: its file name, seconds and tone.
const TRACKS: &[(&str, u32, u32)] = &[
    ("short-a.mp3", 3, 440),
    ("short-b.mp3", 4, 660),
    ("medium.mp3", 20, 330),
    ("long.mp3", 120, 220),
];

/// The library, made once per build from generated PCM, encoded in process (with ID3v2 and ID3v1 tags,
/// so the tags must reach the sink too).
pub fn library() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("render-library");
        std::fs::create_dir_all(&dir).expect("library dir");
        for (name, seconds, hz) in TRACKS {
            let path = dir.join(name);
            if path.exists() {
                continue;
            }
            let tmp = dir.join(format!("{name}.tmp"));
            let frames = 44_100 * seconds;
            let mut pcm = Vec::with_capacity(frames as usize * 2);
            for i in 0..frames {
                let t = f64::from(i) / 44_100.0;
                // A tone with a slow wobble, so frames differ.
                let v = (8000.0
                    * (2.0 * std::f64::consts::PI * f64::from(*hz) * t).sin()
                    * (0.6 + 0.4 * (t * 1.3).sin())) as i16;
                pcm.extend_from_slice(&[v, -v]);
            }
            let tags = mp3::Tags {
                title: Some((*name).to_owned()),
                artist: Some("Render Tests".into()),
                album: Some("Fixtures".into()),
                ..mp3::Tags::default()
            };
            let bytes = mp3::encode(&pcm, mp3::Encoding::Cbr(128), &tags).expect("encoding");
            std::fs::write(&tmp, bytes).expect("writing a test track");
            std::fs::rename(&tmp, &path).expect("rename");
        }
        garble(&dir);
        dir
    })
}

/// `garbled.mp3`: the medium track with 6 KB of noise spliced in at a third of it, as a damaged
/// file or a bad copy would be. The decoder cannot read through it; the render must still play
/// every byte and finish the track.
fn garble(dir: &Path) {
    let path = dir.join(GARBLED);
    if path.exists() {
        return;
    }
    let medium = std::fs::read(dir.join("medium.mp3")).expect("medium.mp3");
    let at = medium.len() / 3;
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let noise = (0..6 * 1024).map(|_| {
        // xorshift64: the same noise every time.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 24) as u8
    });
    let garbled: Vec<u8> = medium[..at]
        .iter()
        .copied()
        .chain(noise)
        .chain(medium[at..].iter().copied())
        .collect();
    let tmp = dir.join(format!("{GARBLED}.tmp"));
    std::fs::write(&tmp, garbled).expect("write garbled");
    std::fs::rename(&tmp, &path).expect("rename");
}

/// The file name of the damaged track.
pub const GARBLED: &str = "garbled.mp3";

/// A track of the library by file name.
pub fn source(file: &str) -> Vec<u8> {
    std::fs::read(library().join(file)).expect("track file")
}

pub struct MediaServer {
    pub id: String,
    pub url: String,
    child: Child,
}

/// A render with its MediaServers.
pub struct Rig {
    pub base: Base,
    pub servers: Vec<MediaServer>,
    next_server: usize,
    /// Extra arguments of every MediaServer started from now on.
    pub server_args: Vec<String>,
}

impl Rig {
    /// `servers` MediaServers in the located list; no render yet.
    pub fn new(servers: usize) -> Self {
        let lib = library();
        assert!(lib.exists());
        let mut rig = Self {
            base: Base::new(),
            servers: Vec::new(),
            next_server: 1,
            server_args: Vec::new(),
        };
        for _ in 0..servers {
            rig.start_server();
        }
        rig
    }

    /// Starts another MediaServer and puts it in the located list.
    pub fn start_server(&mut self) -> String {
        let n = self.next_server;
        self.next_server += 1;
        let id = format!("MediaServer-{n}");
        let addr_file = self.base.dir.path().join(format!("{id}.addr"));
        let log =
            std::fs::File::create(self.base.dir.path().join(format!("{id}.log"))).expect("log");
        let child = Command::new(bin("media-server"))
            .arg("--library")
            .arg(library())
            .args(["--listen", "127.0.0.1:0", "--addr-file"])
            .arg(&addr_file)
            .args(&self.server_args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("media-server");
        let addr = wait_until(&format!("{id} listening"), LONG, || {
            std::fs::read_to_string(&addr_file)
                .ok()
                .filter(|a| !a.is_empty())
        });
        let url = format!("http://{addr}");
        self.servers.push(MediaServer {
            id: id.clone(),
            url: url.clone(),
            child,
        });
        self.publish();
        id
    }

    /// The located list: every server still running.
    fn publish(&self) {
        self.base
            .fake
            .publish(self.servers.iter().map(|s| (s.id.as_str(), s.url.as_str())));
    }

    /// SIGKILL to a server, which stays in the located list (as a registry would list it until
    /// its node notices); `forget` removes it.
    pub fn kill_server(&mut self, id: &str) {
        let s = self
            .servers
            .iter_mut()
            .find(|s| s.id == id)
            .expect("a running server");
        let _ = s.child.kill();
        let _ = s.child.wait();
    }

    /// Removes dead servers from the located list.
    pub fn forget(&mut self, id: &str) {
        self.servers.retain(|s| s.id != id);
        self.publish();
    }

    /// Starts the render with `args` (sink, speed...), as node-started `MediaRender-1` posting
    /// its events to the fake node.
    pub fn start_render(&mut self, args: &[&str]) {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let log = self.log_path();
        self.base.start_render(&args, &log);
    }

    pub fn log_path(&self) -> PathBuf {
        self.base.dir.path().join("mediarender1.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn out(&self) -> PathBuf {
        self.base.dir.path().join("out.mp3")
    }

    /// What the `file:` sink holds.
    pub fn played(&self) -> Vec<u8> {
        std::fs::read(self.out()).unwrap_or_default()
    }

    /// POST and expect success.
    pub fn post_ok(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let (code, answer) = self.base.call(reqwest::Method::POST, path, Some(body));
        assert_eq!(code, 200, "POST {path}: {answer}");
        answer
    }

    pub fn load(&self, track: &TrackInfo) {
        self.post_ok("/v1/load", serde_json::json!({ "track_id": track.id }));
    }

    pub fn act(&self, action: &str) -> RenderStatus {
        serde_json::from_value(self.post_ok(&format!("/v1/{action}"), serde_json::json!({})))
            .expect("a status")
    }

    pub fn status(&self) -> RenderStatus {
        let (code, s) = self.base.call(reqwest::Method::GET, "/v1/status", None);
        assert_eq!(code, 200);
        serde_json::from_value(s).expect("a status")
    }

    pub fn wait_status(&self, what: &str, pred: impl Fn(&RenderStatus) -> bool) -> RenderStatus {
        wait_until(what, LONG, || Some(self.status()).filter(|s| pred(s)))
    }

    /// The library as the first server lists it.
    pub fn tracks(&self) -> Vec<TrackInfo> {
        let url = format!("{}/v1/tracks", self.servers[0].url);
        self.base.rt.block_on(async {
            self.base
                .http
                .get(&url)
                .send()
                .await
                .expect("GET tracks")
                .json()
                .await
                .expect("tracks")
        })
    }

    pub fn track(&self, file: &str) -> TrackInfo {
        self.tracks()
            .into_iter()
            .find(|t| t.file == file)
            .expect("track in the library")
    }

    /// Loads `track`, plays it, and waits until its position is past `ms`.
    pub fn play_past(&self, track: &TrackInfo, ms: u64) {
        self.load(track);
        self.act("play");
        self.wait_status("position moving", |s| s.position_ms > ms);
    }

    /// The events the render posted so far.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.base.fake.events()
    }

    /// Waits for the `n`th event named `name` (1-based).
    pub fn wait_event(&self, name: &str, n: usize) -> serde_json::Value {
        wait_until(&format!("event {name} #{n}"), LONG, || {
            self.events()
                .into_iter()
                .filter(|e| e["event"] == name)
                .nth(n - 1)
        })
    }
}

/// Kills a process by pid when dropped (one the render started, should the test fail before
/// the render stops it).
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Only if it is still that program (a pid is reused once it is gone).
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", self.0)).unwrap_or_default();
        if !String::from_utf8_lossy(&cmdline).contains("sleep") {
            return;
        }
        if let Some(pid) = rustix::process::Pid::from_raw(self.0 as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        // The render first, so that it does not fail over while its servers go.
        self.base.stop_render();
        for s in &mut self.servers {
            let _ = s.child.kill();
            let _ = s.child.wait();
        }
    }
}
