//! Log lines of the dashboard and simulator running in a test process. Every line at info and
//! above (or what `RUST_LOG` asks for) goes to the test's own output, which the harness shows
//! when the test fails; the bad-input suite also keeps every line, down to trace, to search it
//! for tokens.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use tracing_subscriber::filter::{dynamic_filter_fn, EnvFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

static INIT: Once = Once::new();
static KEEP: AtomicBool = AtomicBool::new(false);
static KEPT: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Everything anything could hide a token in: more verbose than production.
const KEPT_LEVELS: &str = "debug,app=trace,server=trace,simulator=trace,tower_sessions=trace";
const SHOWN_LEVELS: &str = "info,sqlx=warn";

struct Kept;

impl std::io::Write for Kept {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        KEPT.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the process's subscriber (once).
pub fn init() {
    INIT.call_once(|| {
        let shown = tracing_subscriber::fmt::layer()
            .with_test_writer()
            .with_filter(
                EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(SHOWN_LEVELS)),
            );
        let kept = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(|| Kept)
            .with_filter(EnvFilter::new(KEPT_LEVELS))
            // Dynamic: `filter_fn` is asked once per call site and its answer kept, so a
            // call site first met before `keep_all` (by another test in the process) would
            // never be kept.
            .with_filter(dynamic_filter_fn(|_, _| KEEP.load(Ordering::Relaxed)));
        tracing_subscriber::registry()
            .with(shown)
            .with(kept)
            .try_init()
            .expect("the test harness installs the only log subscriber");
    });
}

/// From now on every line is kept too, for [`kept`].
pub fn keep_all() {
    init();
    KEEP.store(true, Ordering::Relaxed);
}

/// The lines kept since [`keep_all`].
pub fn kept() -> String {
    String::from_utf8_lossy(&KEPT.lock().unwrap()).to_string()
}
