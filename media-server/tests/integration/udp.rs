//! The control port against the real binary: its commands and errors, UDP datagrams of
//! whole MP3 frames that stop on pause and on every kind of disconnect, two clients at once,
//! ffmpeg as a real UDP receiver, and a channel fed by ffmpeg over UDP.

use std::future::Future;
use std::process::Stdio;
use std::time::{Duration, Instant};

use grid_proto::live::SourceState;
use media_server::mpeg::FrameHeader;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UdpSocket};

use crate::helper::{Live, Server, stats};

/// How long any awaited condition may take here: generous, for a loaded CI machine.
const LONG: Duration = Duration::from_secs(30);
/// The server's tick in these tests.
const TICK: Duration = Duration::from_millis(100);
/// Datagrams have stopped once none came for this long (after draining what was in flight).
const QUIET: Duration = Duration::from_millis(3 * 100);
const MAX_PAYLOAD: usize = 1400;

/// Polls `cond` every 20 ms until it holds; panics naming `what` after [`LONG`].
async fn wait_for<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + LONG;
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn start(live: &Live, extra: &[&str]) -> Server {
    let tick = TICK.as_millis().to_string();
    let mut args = vec!["--control", "127.0.0.1:0", "--live-tick-ms", &tick];
    args.extend_from_slice(extra);
    live.start_with(&args).await
}

/// A control connection.
struct Control {
    stream: BufReader<TcpStream>,
}

impl Control {
    async fn connect(server: &Server) -> Self {
        let addr = server.control.as_deref().expect("a control port");
        let stream = TcpStream::connect(addr).await.unwrap();
        Control {
            stream: BufReader::new(stream),
        }
    }

    /// Sends `bytes` as they are.
    async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).await.unwrap();
    }

    /// The next reply line, without its newline.
    async fn reply(&mut self) -> String {
        let mut line = String::new();
        let n = tokio::time::timeout(LONG, self.stream.read_line(&mut line))
            .await
            .expect("no reply in time")
            .expect("the control connection failed");
        assert!(n > 0, "the control connection closed instead of replying");
        assert!(line.ends_with('\n'), "{line:?}");
        line.trim_end_matches('\n').to_owned()
    }

    /// Sends `command` and a newline; returns the reply.
    async fn ask(&mut self, command: &str) -> String {
        self.send_raw(format!("{command}\n").as_bytes()).await;
        self.reply().await
    }

    /// Waits for the server to close the connection.
    async fn closed(&mut self) {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(LONG, self.stream.read_to_end(&mut rest))
            .await
            .expect("the control connection stays open");
        // A reset is a close too; what matters is that nothing more was said.
        if read.is_ok() {
            assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
        }
    }
}

/// A UDP receiver on 127.0.0.1.
async fn receiver() -> (UdpSocket, u16) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    (socket, port)
}

/// The next datagram, checked: whole MP3 frames, at most [`MAX_PAYLOAD`] bytes unless it is a
/// single frame.
async fn datagram(socket: &UdpSocket) -> Vec<u8> {
    let mut buf = vec![0u8; 65_536];
    let n = tokio::time::timeout(LONG, socket.recv(&mut buf))
        .await
        .expect("no datagram in time")
        .unwrap();
    buf.truncate(n);
    let frames = frames_of(&buf);
    assert!(
        n <= MAX_PAYLOAD || frames.len() == 1,
        "{n} bytes in {} frames",
        frames.len()
    );
    buf
}

/// The frames of `d`, which must be exactly a sequence of whole frames.
fn frames_of(d: &[u8]) -> Vec<&[u8]> {
    let mut frames = Vec::new();
    let mut off = 0;
    while off < d.len() {
        let h = FrameHeader::parse(&d[off..]).unwrap_or_else(|| {
            panic!(
                "no frame header at {off} of {}: {:x?}",
                d.len(),
                &d[off..(off + 4).min(d.len())]
            )
        });
        assert!(
            off + h.len <= d.len(),
            "a frame of {} bytes at {off} overruns the {} bytes",
            h.len,
            d.len()
        );
        frames.push(&d[off..off + h.len]);
        off += h.len;
    }
    assert!(!frames.is_empty());
    frames
}

/// Reads what is in flight until none arrives for [`QUIET`], then checks that nothing more
/// comes for a while: the datagrams have stopped.
async fn assert_stopped(socket: &UdpSocket) {
    let mut buf = vec![0u8; 65_536];
    let deadline = Instant::now() + LONG;
    while tokio::time::timeout(QUIET, socket.recv(&mut buf))
        .await
        .is_ok()
    {
        assert!(Instant::now() < deadline, "the datagrams never stop");
    }
    let late = tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut buf)).await;
    assert!(late.is_err(), "a datagram after they stopped");
}

async fn udp_clients(server: &Server, name: &str) -> u64 {
    stats(server, name).await.udp_clients
}

#[tokio::test]
async fn a_client_gets_whole_frames_until_it_pauses_or_disconnects() {
    let live = Live::new("");
    let server = start(&live, &[]).await;
    let info: serde_json::Value = server.get("/v1/control").await.json().await.unwrap();
    assert_eq!(info["addr"].as_str(), server.control.as_deref());

    let (udp, port) = receiver().await;
    let mut c = Control::connect(&server).await;
    assert_eq!(c.ask(&format!("CONECTAR {port}")).await, "OK");
    let mut bytes = 0;
    for _ in 0..10 {
        bytes += datagram(&udp).await.len();
    }
    let s = stats(&server, "test").await;
    assert_eq!(s.udp_clients, 1, "{s:?}");
    assert!(
        s.udp_datagrams >= 10 && s.udp_bytes >= bytes as u64,
        "{s:?}"
    );

    // Paused: they stop; resumed: they come again.
    assert_eq!(c.ask("INTERRUMPIR").await, "OK");
    assert_stopped(&udp).await;
    assert_eq!(c.ask("CONTINUAR").await, "OK");
    datagram(&udp).await;
    datagram(&udp).await;

    // DESCONECTAR: OK, the connection closes, the datagrams stop.
    assert_eq!(c.ask("DESCONECTAR").await, "OK");
    c.closed().await;
    assert_stopped(&udp).await;
    wait_for("the client to be gone", || async {
        udp_clients(&server, "test").await == 0
    })
    .await;

    // The English aliases, any case, with a \r: then the connection just drops.
    let mut c = Control::connect(&server).await;
    c.send_raw(format!("connect {port} test\r\n").as_bytes())
        .await;
    assert_eq!(c.reply().await, "OK");
    datagram(&udp).await;
    drop(c);
    assert_stopped(&udp).await;
    wait_for("the dropped client to be gone", || async {
        udp_clients(&server, "test").await == 0
    })
    .await;
    assert!(
        server
            .log()
            .contains(&format!("test: UDP to 127.0.0.1:{port} stopped")),
        "{}",
        server.log()
    );
}

#[tokio::test]
async fn commands_out_of_order_or_malformed_get_a_clear_err() {
    let live = Live::new("");
    let server = start(&live, &["--control-max-clients", "2"]).await;
    let (udp, port) = receiver().await;
    let mut c = Control::connect(&server).await;
    for (command, want) in [
        ("INTERRUMPIR", "ERR not connected (CONECTAR first)"),
        ("CONTINUAR", "ERR not connected (CONECTAR first)"),
        ("DESCONECTAR", "ERR not connected (CONECTAR first)"),
        (
            "CONECTAR",
            "ERR CONECTAR needs a UDP port: CONECTAR <udp-port> [channel]",
        ),
        ("CONECTAR 0", "ERR bad UDP port '0': must be 1 to 65535"),
        ("CONECTAR abc", "ERR bad UDP port 'abc': must be 1 to 65535"),
        (
            "CONECTAR 65536",
            "ERR bad UDP port '65536': must be 1 to 65535",
        ),
        ("CONECTAR -1", "ERR bad UDP port '-1': must be 1 to 65535"),
        (
            &format!("CONECTAR {port} nope"),
            "ERR no such channel 'nope'",
        ),
        (
            &format!("CONECTAR {port} test extra"),
            "ERR CONECTAR takes a UDP port and a channel, no more",
        ),
        (
            "HOLA",
            "ERR unknown command 'HOLA' (CONECTAR, INTERRUMPIR, CONTINUAR or DESCONECTAR)",
        ),
        ("", "ERR empty command"),
    ] {
        assert_eq!(c.ask(command).await, want, "{command}");
    }
    // None of it started anything.
    assert_eq!(udp_clients(&server, "test").await, 0);

    assert_eq!(c.ask(&format!("CONECTAR {port}")).await, "OK");
    for (command, want) in [
        (
            format!("CONECTAR {port}"),
            "ERR already connected to 'test' (DESCONECTAR first)",
        ),
        ("CONTINUAR".into(), "ERR not paused"),
        (
            "INTERRUMPIR now".into(),
            "ERR INTERRUMPIR takes no arguments",
        ),
        ("pause".into(), "OK"),
        ("INTERRUMPIR".into(), "ERR already paused"),
        ("Resume".into(), "OK"),
    ] {
        assert_eq!(c.ask(&command).await, want, "{command}");
    }
    datagram(&udp).await;
    assert_eq!(udp_clients(&server, "test").await, 1);

    // A third client at once is refused (at most 2 here).
    let mut second = Control::connect(&server).await;
    let mut third = Control::connect(&server).await;
    assert_eq!(
        third.reply().await,
        "ERR too many control clients (at most 2)"
    );
    third.closed().await;
    // The second still works.
    assert_eq!(
        second.ask("PAUSE").await,
        "ERR not connected (CONECTAR first)"
    );
    // Not to a destination the first already feeds: it would get every datagram twice.
    assert_eq!(
        second.ask(&format!("CONECTAR {port}")).await,
        format!("ERR 127.0.0.1:{port} already receives 'test' (from another control connection)")
    );
    drop(second);
    let only_the_first = || async {
        let info: serde_json::Value = server.get("/v1/control").await.json().await.unwrap();
        info["clients"] == 1
    };
    wait_for("the second client to be counted out", only_the_first).await;

    // An over-long line: ERR, then the connection closes; with or without its newline.
    for end in ["\n", ""] {
        let mut long = Control::connect(&server).await;
        long.send_raw(format!("CONECTAR {}{end}", "1".repeat(300)).as_bytes())
            .await;
        assert_eq!(
            long.reply().await,
            "ERR line too long (more than 256 bytes)"
        );
        long.closed().await;
        drop(long);
        wait_for("the long-line client to be counted out", only_the_first).await;
    }
    // The first client's stream went on through all this.
    assert_eq!(c.ask("DESCONECTAR").await, "OK");
    c.closed().await;
    assert_stopped(&udp).await;
}

#[tokio::test]
async fn two_clients_at_once_get_the_same_audio() {
    let live = Live::new("");
    let server = start(&live, &[]).await;
    let (udp_a, port_a) = receiver().await;
    let (udp_b, port_b) = receiver().await;
    let mut a = Control::connect(&server).await;
    let mut b = Control::connect(&server).await;
    assert_eq!(a.ask(&format!("CONECTAR {port_a} test")).await, "OK");
    datagram(&udp_a).await;
    // A is read all along (not left to its socket's buffer while B is read).
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            tokio::select! {
                _ = &mut stopped => return udp_a,
                n = udp_a.recv(&mut buf) => {
                    let _ = tx.send(buf[..n.unwrap()].to_vec());
                }
            }
        }
    });
    assert_eq!(b.ask(&format!("CONECTAR {port_b}")).await, "OK");
    let mut from_b = Vec::new();
    for _ in 0..5 {
        from_b.push(datagram(&udp_b).await);
    }
    // A got the same datagrams, in the same order.
    let mut from_a = Vec::new();
    let deadline = Instant::now() + LONG;
    while !from_a.windows(from_b.len()).any(|w| w == from_b.as_slice()) {
        assert!(
            Instant::now() < deadline,
            "A never got B's datagrams ({} read)",
            from_a.len()
        );
        let d = tokio::time::timeout(LONG, rx.recv())
            .await
            .expect("A got nothing in time")
            .expect("A's reader stopped");
        frames_of(&d);
        from_a.push(d);
    }
    assert_eq!(udp_clients(&server, "test").await, 2);
    // One leaving does not stop the other.
    assert_eq!(a.ask("DESCONECTAR").await, "OK");
    let _ = stop.send(());
    let udp_a = tokio::time::timeout(LONG, reader)
        .await
        .expect("A's reader did not stop")
        .unwrap();
    assert_stopped(&udp_a).await;
    datagram(&udp_b).await;
    datagram(&udp_b).await;
    assert_eq!(udp_clients(&server, "test").await, 1);
}

#[tokio::test]
async fn ffmpeg_plays_the_datagrams() {
    let live = Live::new("");
    let server = start(&live, &[]).await;
    let mut attempts = 0;
    loop {
        attempts += 1;
        // A port free a moment ago; ffmpeg binds it (another taker is retried with another).
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let ffmpeg = tokio::process::Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-f", "mp3", "-i"])
            .arg(format!("udp://127.0.0.1:{port}"))
            .args(["-t", "2", "-f", "s16le", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("ffmpeg must be installed (apt install ffmpeg)");
        let mut c = Control::connect(&server).await;
        assert_eq!(c.ask(&format!("CONECTAR {port}")).await, "OK");
        let out = tokio::time::timeout(LONG, ffmpeg.wait_with_output())
            .await
            .expect("ffmpeg took too long")
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() && err.contains("bind") && attempts < 3 {
            continue;
        }
        assert!(out.status.success(), "ffmpeg failed: {err}");
        // Two seconds of 16-bit stereo at 44.1 kHz is 352,800 bytes; more than one is enough.
        assert!(
            out.stdout.len() > 176_400,
            "{} bytes of PCM: {err}",
            out.stdout.len()
        );
        assert_eq!(c.ask("DESCONECTAR").await, "OK");
        break;
    }
}

/// The audio frames of an MP3 file, as bytes one after the other (tags and the encoder's
/// Info frame left out).
fn audio_frames(file: &[u8]) -> Vec<u8> {
    let mut off = (0..file.len())
        .find(|&i| media_server::mpeg::frame_at(file, i).is_some())
        .unwrap();
    let mut out = Vec::new();
    while let Some(h) = FrameHeader::parse(&file[off..]) {
        if off + h.len > file.len() {
            break;
        }
        let frame = &file[off..off + h.len];
        if !media_server::mpeg::is_info_frame(frame) {
            out.extend_from_slice(frame);
        }
        off += h.len;
    }
    out
}

fn is_silent(frame: &[u8]) -> bool {
    frame[4..].iter().all(|&b| b == 0)
}

/// Reads a plain listener's body until `enough` holds for the frames read so far.
async fn read_frames(
    body: &mut reqwest::Response,
    bytes: &mut Vec<u8>,
    enough: impl Fn(&[&[u8]]) -> bool,
) {
    let deadline = Instant::now() + LONG;
    loop {
        let frames = whole_frames(bytes);
        if enough(&frames) {
            return;
        }
        assert!(Instant::now() < deadline, "not enough frames in time");
        let chunk = tokio::time::timeout(LONG, body.chunk())
            .await
            .expect("the listener's stream stalled")
            .unwrap()
            .expect("the listener's stream ended");
        bytes.extend_from_slice(&chunk);
    }
}

/// The whole frames at the start of `bytes` (a plain listener starts at a frame).
fn whole_frames(bytes: &[u8]) -> Vec<&[u8]> {
    let mut frames = Vec::new();
    let mut off = 0;
    while let Some(h) = FrameHeader::parse(&bytes[off..]) {
        if off + h.len > bytes.len() {
            break;
        }
        frames.push(&bytes[off..off + h.len]);
        off += h.len;
    }
    if off + 4 <= bytes.len() {
        assert!(
            FrameHeader::parse(&bytes[off..]).is_some(),
            "not a frame at {off}"
        );
    }
    frames
}

#[tokio::test]
async fn a_udp_source_feeds_listeners_and_goes_silent_when_it_stops() {
    let live = Live::new(
        "[[channel]]\nname = \"ingest\"\nsource = \"udp://127.0.0.1:0\"\nburst_ms = 0\nlag_ms = 30000\n",
    );
    let server = start(&live, &[]).await;
    let s = stats(&server, "ingest").await;
    assert_eq!(s.source.state, SourceState::Connecting, "{s:?}");
    // Port 0 in the file: the bound port is reported as the upstream.
    let upstream = s.source.upstream.expect("the bound address");
    let port: u16 = upstream
        .strip_prefix("udp://127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{upstream}"));
    assert_ne!(port, 0);

    let file = live.dir.path().join("lib/1.mp3");
    let source_audio = audio_frames(&std::fs::read(&file).unwrap());
    // No tag and no Xing frame of ffmpeg's own: the datagrams carry the file's frames as they are.
    let mut ffmpeg = tokio::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-re", "-stream_loop", "-1", "-i"])
        .arg(&file)
        .args([
            "-c",
            "copy",
            "-f",
            "mp3",
            "-write_xing",
            "0",
            "-id3v2_version",
            "0",
        ])
        .arg(format!("udp://127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("ffmpeg must be installed (apt install ffmpeg)");
    wait_for("the UDP source to play", || async {
        stats(&server, "ingest").await.source.state == SourceState::Playing
    })
    .await;

    let mut body = server.get("/live/ingest").await;
    assert_eq!(body.status(), 200);
    let mut bytes = Vec::new();
    // Thirty frames of the source (silence from before it started is skipped).
    read_frames(&mut body, &mut bytes, |frames| {
        frames.iter().filter(|f| !is_silent(f)).count() >= 30
    })
    .await;
    let frames = whole_frames(&bytes);
    let first = frames.iter().position(|f| !is_silent(f)).unwrap();
    let window: Vec<u8> = frames[first..first + 20].concat();
    // ffmpeg loops the file: twenty frames in a row may span its end and its start.
    let looped = [source_audio.as_slice(), source_audio.as_slice()].concat();
    assert!(
        looped.windows(window.len()).any(|w| w == window.as_slice()),
        "the listener's audio is not the source file's"
    );
    let s = stats(&server, "ingest").await;
    assert!(s.source.segments > 0 && s.listeners == 1, "{s:?}");

    // The source stops: silence, and the state says so.
    ffmpeg.kill().await.unwrap();
    wait_for("the source to be missed", || async {
        stats(&server, "ingest").await.source.state == SourceState::Reconnecting
    })
    .await;
    let before = whole_frames(&bytes).len();
    read_frames(&mut body, &mut bytes, |frames| {
        frames[before..].iter().filter(|f| is_silent(f)).count() >= 20
    })
    .await;
    server.assert_logged("ingest: no datagram for 2000 ms");
}

#[tokio::test]
async fn a_udp_source_whose_port_is_taken_stops_the_server_at_start() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("lib")).unwrap();
    let channels = dir.path().join("channels.toml");
    std::fs::write(
        &channels,
        format!("[[channel]]\nname = \"busy\"\nsource = \"udp://127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_media-server"))
        .arg("--library")
        .arg(dir.path().join("lib"))
        .args(["--listen", "127.0.0.1:0", "--channels"])
        .arg(&channels)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(LONG, run)
        .await
        .expect("the server did not stop")
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&format!("channel busy: binding udp://127.0.0.1:{port}")),
        "{err}"
    );
    drop(taken);
}
