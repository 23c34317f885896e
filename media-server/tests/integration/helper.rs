//! Test fixtures: MP3 files encoded in process (media-synth's LAME) from generated PCM, and the real `media-server`
//! binary on port 0, stopped by pid when dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use grid_proto::media::TrackInfo;
use media_synth::mp3::{self, Encoding};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sha2::{Digest, Sha256};

mod channels;
pub use channels::{Live, METAINT, scrape, stats, wait_source};

/// How long any awaited condition may take.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Polls `cond` until it holds; panics naming `what` after [`DEADLINE`].
pub async fn wait_until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    grid_testkit::wait_for(what, DEADLINE, async || cond().await.then_some(())).await;
}

/// Tags of a generated track; `None` leaves the tag out.
pub struct Tags<'a> {
    pub title: Option<&'a str>,
    pub artist: Option<&'a str>,
    pub album: Option<&'a str>,
}

/// Writes `path`: `seconds` of a stereo tone sweep with some noise, encoded at
/// 128 kbit/s CBR or LAME's VBR quality 2. Returns the true duration in ms.
pub fn make_mp3(path: &Path, seconds: f64, vbr: bool, tags: &Tags<'_>) -> u64 {
    encode(path, seconds, if vbr { None } else { Some(128) }, tags)
}

/// Like [`make_mp3`], CBR at `kbps` (a big file in few seconds of audio).
pub fn make_cbr(path: &Path, seconds: f64, kbps: u32, tags: &Tags<'_>) -> u64 {
    encode(path, seconds, Some(kbps), tags)
}

fn encode(path: &Path, seconds: f64, cbr_kbps: Option<u32>, tags: &Tags<'_>) -> u64 {
    let frames = (seconds * 44_100.0) as usize;
    let mut pcm = Vec::with_capacity(frames * 4);
    let mut noise: u32 = 0x1234_5678;
    for i in 0..frames {
        let t = i as f64 / 44_100.0;
        let freq = 220.0 + 660.0 * (t / seconds);
        noise = noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let hiss = f64::from((noise >> 16) as u16 as i16) / 32_768.0;
        let left = (0.4 * (std::f64::consts::TAU * freq * t).sin() + 0.05 * hiss) * 32_767.0;
        let right = (0.4 * (std::f64::consts::TAU * freq * 1.5 * t).sin()) * 32_767.0;
        pcm.extend_from_slice(&(left as i16).to_le_bytes());
        pcm.extend_from_slice(&(right as i16).to_le_bytes());
    }
    let encoding = match cbr_kbps {
        Some(kbps) => Encoding::Cbr(u16::try_from(kbps).expect("a bit rate")),
        None => Encoding::Vbr(2),
    };
    let tags = mp3::Tags {
        title: tags.title.map(str::to_owned),
        artist: tags.artist.map(str::to_owned),
        album: tags.album.map(str::to_owned),
        ..mp3::Tags::default()
    };
    let bytes = mp3::encode_le_bytes(&pcm, encoding, &tags).expect("encoding a test track");
    std::fs::write(path, bytes).expect("writing a test track");
    (frames as u64 * 1000) / 44_100
}

/// The id a file's content should get.
pub fn content_id(path: &Path) -> String {
    let digest = Sha256::digest(std::fs::read(path).unwrap());
    hex::encode(digest)[..16].to_owned()
}

/// A track file's content and the id it should get.
pub fn read_track(path: &Path) -> (Vec<u8>, String) {
    (std::fs::read(path).unwrap(), content_id(path))
}

/// A running `media-server`.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The control port's address (`127.0.0.1:PORT`), when started with `--control`.
    pub control: Option<String>,
    log: PathBuf,
    _dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

impl Server {
    /// Starts the binary on `library` with extra arguments and waits for its address.
    pub async fn start(library: &Path, extra: &[&str]) -> Self {
        Self::start_with_fd_limit(library, extra, None).await
    }

    /// Like [`Server::start`], listening on `listen` (`127.0.0.1:PORT`, to restart a server on
    /// the port it had).
    pub async fn start_at(library: &Path, listen: &str, extra: &[&str]) -> Self {
        Self::start_full(library, listen, extra, None).await
    }

    /// Like [`Server::start`], with at most `fd_limit` open file descriptors (`ulimit -n`) if
    /// given. The shell `exec`s the binary, so the pid is the server's.
    pub async fn start_with_fd_limit(
        library: &Path,
        extra: &[&str],
        fd_limit: Option<u32>,
    ) -> Self {
        Self::start_full(library, "127.0.0.1:0", extra, fd_limit).await
    }

    async fn start_full(
        library: &Path,
        listen: &str,
        extra: &[&str],
        fd_limit: Option<u32>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let addr_file = dir.path().join("addr");
        let control_file = dir.path().join("control");
        let log = dir.path().join("mediaserver.log");
        let binary = env!("CARGO_BIN_EXE_media-server");
        let mut command = match fd_limit {
            Some(limit) => {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
                    .arg(binary);
                sh
            }
            None => Command::new(binary),
        };
        let child = command
            .arg("--library")
            .arg(library)
            .args(["--listen", listen, "--addr-file"])
            .arg(&addr_file)
            .arg("--control-addr-file")
            .arg(&control_file)
            .args(extra)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut server = Self {
            child,
            base: String::new(),
            addr: String::new(),
            control: None,
            log,
            _dir: dir,
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + DEADLINE;
        server.addr = loop {
            if let Ok(addr) = std::fs::read_to_string(&addr_file)
                && !addr.trim().is_empty()
            {
                break addr.trim().to_owned();
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("media-server exited ({status}):\n{}", server.log());
            }
            assert!(
                Instant::now() < deadline,
                "media-server did not start:\n{}",
                server.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        server.base = format!("http://{}", server.addr);
        // Written before the address file, so it is there now if the server has one.
        server.control = std::fs::read_to_string(&control_file)
            .ok()
            .map(|a| a.trim().to_owned());
        server
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Asserts that it logged `text`.
    #[track_caller]
    pub fn assert_logged(&self, text: &str) {
        let log = self.log();
        assert!(log.contains(text), "{text:?} is not in the log:\n{log}");
    }

    /// Sends it a signal.
    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// Kills it with SIGKILL and reaps it.
    pub fn kill_hard(&mut self) {
        self.signal(Signal::SIGKILL);
        let _ = self.child.wait();
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.http.delete(self.url(path)).send().await.unwrap()
    }

    /// The library listing.
    pub async fn tracks(&self) -> Vec<TrackInfo> {
        self.get("/v1/tracks").await.json().await.unwrap()
    }

    /// `POST /v1/streams`.
    pub async fn open(&self, track: &str, render: &str, offset: u64) -> reqwest::Response {
        self.http
            .post(self.url("/v1/streams"))
            .json(&serde_json::json!({"track_id": track, "render_id": render, "offset": offset}))
            .send()
            .await
            .unwrap()
    }

    /// `GET` a path sent exactly as written (no client-side normalisation of `..`); returns
    /// the status code.
    pub fn raw_status(&self, path: &str) -> u16 {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        reply
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line for {path}: {reply:?}"))
    }
}

/// A response read off a raw socket: head, body (chunked encoding decoded), and whether the
/// body ended cleanly (the terminating zero-length chunk) rather than being cut.
pub struct RawResponse {
    pub head: String,
    pub body: Vec<u8>,
    pub clean_end: bool,
}

impl Server {
    /// Sends `GET path` from a socket with a tiny receive buffer (no autotuning), so a body
    /// nobody reads stalls after a few hundred KiB at most; returns once the response has
    /// begun (its first bytes are in), with what was read so far.
    pub async fn stalled_get(&self, path: &str) -> (tokio::net::TcpStream, Vec<u8>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(self.addr.parse().unwrap()).await.unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut first = vec![0u8; 64];
        let n = tokio::time::timeout(DEADLINE, stream.read(&mut first))
            .await
            .expect("no response in time")
            .unwrap();
        first.truncate(n);
        (stream, first)
    }
}

/// Reads a response to its end (the server closes: `Connection: close`).
pub async fn read_raw((mut stream, mut all): (tokio::net::TcpStream, Vec<u8>)) -> RawResponse {
    use tokio::io::AsyncReadExt;
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut all))
        .await
        .expect("the response did not end in time")
        .unwrap();
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no response head")
        + 4;
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let mut rest = &all[split..];
    let mut body = Vec::new();
    let mut clean_end = false;
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            clean_end = true;
            break;
        }
        let data = &rest[eol + 2..];
        if data.len() < size + 2 {
            body.extend_from_slice(&data[..data.len().min(size)]);
            break;
        }
        body.extend_from_slice(&data[..size]);
        rest = &data[size + 2..];
    }
    RawResponse {
        head,
        body,
        clean_end,
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A library of three tracks: a CBR one, a VBR one in a subfolder, one without tags.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    /// (relative file, true duration ms)
    pub cbr: (PathBuf, u64),
    pub vbr: (PathBuf, u64),
    pub untagged: (PathBuf, u64),
}

impl Fixture {
    /// Adds `big.mp3`: 100 s at 320 kbit/s, far more than socket buffers hold while nobody
    /// reads. Its path.
    pub fn big_track(&self) -> PathBuf {
        let big = self.path().join("big.mp3");
        make_cbr(
            &big,
            100.0,
            320,
            &Tags {
                title: Some("Big"),
                artist: None,
                album: None,
            },
        );
        big
    }

    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("Album B")).unwrap();
        let cbr = dir.path().join("cbr.mp3");
        let vbr = dir.path().join("Album B/vbr.MP3");
        let untagged = dir.path().join("Plain Song.mp3");
        let cbr_ms = make_mp3(
            &cbr,
            20.0,
            false,
            &Tags {
                title: Some("Zeta"),
                artist: Some("Artist A"),
                album: Some("Album A"),
            },
        );
        let vbr_ms = make_mp3(
            &vbr,
            3.0,
            true,
            &Tags {
                title: Some("Beta"),
                artist: Some("Artist A"),
                album: Some("Album B"),
            },
        );
        let untagged_ms = make_mp3(
            &untagged,
            1.5,
            false,
            &Tags {
                title: None,
                artist: None,
                album: None,
            },
        );
        Self {
            dir,
            cbr: (cbr, cbr_ms),
            vbr: (vbr, vbr_ms),
            untagged: (untagged, untagged_ms),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}
