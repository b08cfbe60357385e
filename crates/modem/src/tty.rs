//! Serial lines on Unix: a pseudo-terminal for the simulator, a tty for the agent, both in raw
//! mode (no echo, no line editing: the `> ` prompt of `AT+CMGS` has no line end).

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::sys::termios::{self, BaudRate, SetArg};

/// Both directions of a serial line as separate async files (one read and one write may
/// then wait at the same time).
pub struct Line {
    pub reader: tokio::fs::File,
    pub writer: tokio::fs::File,
}

fn make_raw(fd: &OwnedFd, baud: Option<BaudRate>) -> std::io::Result<()> {
    let mut t = termios::tcgetattr(fd).map_err(std::io::Error::from)?;
    termios::cfmakeraw(&mut t);
    if let Some(b) = baud {
        termios::cfsetspeed(&mut t, b).map_err(std::io::Error::from)?;
    }
    termios::tcsetattr(fd, SetArg::TCSANOW, &t).map_err(std::io::Error::from)
}

fn line(fd: OwnedFd) -> std::io::Result<Line> {
    let second = fd.try_clone()?;
    Ok(Line {
        reader: tokio::fs::File::from_std(std::fs::File::from(fd)),
        writer: tokio::fs::File::from_std(std::fs::File::from(second)),
    })
}

/// Opens a modem's serial device (e.g. `/dev/ttyUSB0`) at 115200 baud, raw.
pub fn open_serial(path: &Path) -> std::io::Result<Line> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let fd = OwnedFd::from(file);
    make_raw(&fd, Some(BaudRate::B115200))?;
    line(fd)
}

/// A new pseudo-terminal: the simulator serves the master side; the returned path is the
/// device a client opens. The slave side is kept open here so the master never sees a
/// hang-up between clients.
pub struct Pty {
    pub master: Line,
    pub path: std::path::PathBuf,
    _slave: OwnedFd,
}

pub fn open_pty() -> std::io::Result<Pty> {
    let pair = nix::pty::openpty(None, None).map_err(std::io::Error::from)?;
    make_raw(&pair.slave, None)?;
    let path = nix::unistd::ttyname(&pair.slave).map_err(std::io::Error::from)?;
    Ok(Pty {
        master: line(pair.master)?,
        path,
        _slave: pair.slave,
    })
}
