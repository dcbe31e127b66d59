//! Command output that stops quietly when its reader has gone.
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe (`runner outbox status | head -1`) is an
//! `EPIPE` error, and `println!` panics on it. `outln!` and `errln!` write a line to standard
//! output or standard error like `println!` and `eprintln!`, but a broken pipe only marks the
//! stream closed: that line and every later one are dropped, and the command goes on (a push
//! whose output nobody reads still pushes). They return `std::io::Result<()>`, so any other
//! write error still reaches the caller with `?`. [`stdout_closed`] lets a long listing stop
//! early.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes one line to standard output (see the module docs). Use [`outln!`].
pub(super) fn stdout_line(args: fmt::Arguments<'_>) -> io::Result<()> {
    line(&mut io::stdout().lock(), &STDOUT_CLOSED, args)
}

/// Writes one line to standard error (see the module docs). Use [`errln!`].
pub(super) fn stderr_line(args: fmt::Arguments<'_>) -> io::Result<()> {
    line(&mut io::stderr().lock(), &STDERR_CLOSED, args)
}

/// True once a write to standard output found the pipe closed.
pub(super) fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

fn line(w: &mut impl Write, closed: &AtomicBool, args: fmt::Arguments<'_>) -> io::Result<()> {
    if closed.load(Ordering::Relaxed) {
        return Ok(());
    }
    let written = w
        .write_fmt(args)
        .and_then(|()| w.write_all(b"\n"))
        .and_then(|()| w.flush());
    match written {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            closed.store(true, Ordering::Relaxed);
            Ok(())
        }
        other => other,
    }
}

/// `println!` that stops quietly on a closed pipe; returns `std::io::Result<()>`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::output::stdout_line(format_args!($($arg)*))
    };
}

/// `eprintln!` that stops quietly on a closed pipe; returns `std::io::Result<()>`.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::output::stderr_line(format_args!($($arg)*))
    };
}

pub(crate) use {errln, outln};

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose reader has gone.
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_ends_output_quietly_and_other_errors_are_returned() {
        let closed = AtomicBool::new(false);
        assert!(line(&mut Closed, &closed, format_args!("x")).is_ok());
        assert!(closed.load(Ordering::Relaxed));
        assert!(line(&mut Closed, &closed, format_args!("y")).is_ok());

        let mut buf = Vec::new();
        let open = AtomicBool::new(false);
        line(&mut buf, &open, format_args!("a {}", 1)).unwrap();
        assert_eq!(buf, b"a 1\n");

        let mut full = [0u8; 2];
        let err = line(&mut &mut full[..], &open, format_args!("abc")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);
    }
}
