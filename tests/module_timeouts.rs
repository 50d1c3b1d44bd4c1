//! The module's `timeout=` bounds the whole login, even against a daemon that misbehaves.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::thread;
use std::time::{Duration, Instant};

use common::{PamLogin, PamServices};

/// pam_strerror(PAM_AUTHINFO_UNAVAIL) in Linux-PAM 1.5, as pamtester prints it.
const AUTHINFO_UNAVAIL: &str = "Authentication service cannot retrieve authentication info";

#[test]
fn trickling_daemon_cannot_stretch_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("trickle.sock");
    let listener = UnixListener::bind(&socket).unwrap();

    // A fake daemon that reads the request, then sends one byte of a frame header every
    // second: each read(2) returns quickly, so only a deadline over the whole frame stops it.
    thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            for byte in [0u8, 0, 0, 64].iter().cycle().take(60) {
                if stream.write_all(&[*byte]).is_err() {
                    break;
                }
                thread::sleep(Duration::from_secs(1));
            }
        }
    });

    let services = PamServices::new("ultraauth-trickle", &format!("socket={} timeout=3", socket.display()));
    let started = Instant::now();
    let (status, output) = PamLogin::start(&services, "ultraauth-trickle", "alice").finish();

    assert!(!status.success(), "{output}");
    assert!(output.contains(AUTHINFO_UNAVAIL), "{output}");
    // timeout=3; a generous bound that a trickle of 60 bytes at 1 byte/s would exceed.
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
}

#[test]
fn silent_daemon_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("silent.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    thread::spawn(move || {
        let _held = listener.accept();
        thread::sleep(Duration::from_secs(60));
    });

    let services = PamServices::new("ultraauth-silent", &format!("socket={} timeout=2", socket.display()));
    let started = Instant::now();
    let (status, output) = PamLogin::start(&services, "ultraauth-silent", "alice").finish();

    assert!(!status.success(), "{output}");
    assert!(output.contains(AUTHINFO_UNAVAIL), "{output}");
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
}
