//! A page render never waits for good on what another server in the same process does.
//!
//! leptos_server 0.8.8 keeps one process-wide flag, `IS_SUPPRESSING_RESOURCE_LOAD`
//! (src/resource.rs:37), set by `SuppressResourceLoad` while leptos_router's
//! `RouteList::generate` (src/generate_route_list.rs:237) renders the app to list its routes. A
//! `Resource` whose fetch is first polled while it is set awaits `pending()` for good
//! (resource.rs:317), whichever server, runtime or thread it belongs to
//! (leptos-rs/leptos#4773). Every page here reads the session resource, so a page render on one
//! server that starts while another server lists its routes never ends.

use crate::common;

use common::{logs, Options, TestServer};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The tests here change process-wide state (the route-list hook): one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn small() -> Options {
    Options {
        customers: 20,
        ..Options::default()
    }
}

/// Like `#[tokio::test]`: one current-thread runtime per server.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A whole page from `server`, or why not within `limit`.
async fn render(server: &TestServer, limit: Duration) -> Result<(), String> {
    let client = server.browser();
    let page = async {
        let response = client.get(server.url("/")).send().await;
        let response = response.map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| format!("body failed: {e}"))?;
        if status == 200 && body.contains("</html>") {
            Ok(())
        } else {
            Err(format!("{status}: {body}"))
        }
    };
    match tokio::time::timeout(limit, page).await {
        Ok(result) => result,
        Err(_) => Err(format!("the page render was still pending after {limit:?}")),
    }
}

/// Server A serves; server B is built while A renders a page. Should building B open leptos'
/// route-list window, the test holds it open (through the hook) until A's render is over.
#[test]
fn building_a_server_does_not_stall_a_page_render_on_another() {
    let _serial = serial();
    let runtime_a = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let a = runtime_a.block_on(TestServer::start_with(small()));
    // A page renders before B exists.
    runtime_a
        .block_on(render(&a, Duration::from_secs(30)))
        .unwrap();

    let (events, event) = mpsc::channel::<&'static str>();
    let (release, released) = mpsc::channel::<()>();
    let hook_events = Mutex::new(events.clone());
    let released = Mutex::new(released);
    *server::IN_ROUTE_LIST_GENERATION.lock().unwrap() = Some(Arc::new(move || {
        let _ = hook_events
            .lock()
            .unwrap()
            .send("inside the route-list window");
        let _ = released
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(60));
    }));
    let builder = std::thread::spawn(move || {
        let runtime_b = runtime();
        let b = runtime_b.block_on(TestServer::start_with(small()));
        let _ = events.send("built");
        drop(b);
    });
    // B is either built or inside the window (held open): either way A renders now.
    let b_was = event.recv_timeout(Duration::from_secs(60)).unwrap();
    let rendered = runtime_a.block_on(render(&a, Duration::from_secs(10)));
    let _ = release.send(());
    *server::IN_ROUTE_LIST_GENERATION.lock().unwrap() = None;
    builder.join().unwrap();
    if let Err(why) = rendered {
        panic!("server A's page, rendered while server B was {b_was}: {why}");
    }
}

/// Several servers, each on its own runtime and thread, built one after another while the
/// others render pages: no render stalls.
#[test]
fn many_renders_across_runtimes() {
    let _serial = serial();
    const SERVERS: usize = 6;
    const RENDERS_AFTER_ALL_BUILT: usize = 5;
    let built = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..SERVERS)
        .map(|i| {
            let built = Arc::clone(&built);
            std::thread::spawn(move || -> Result<usize, String> {
                let runtime = runtime();
                runtime.block_on(async {
                    tokio::time::sleep(Duration::from_millis(40 * i as u64)).await;
                    let server = TestServer::start_with(small()).await;
                    built.fetch_add(1, Ordering::SeqCst);
                    let started = std::time::Instant::now();
                    let mut renders = 0;
                    let mut after = 0;
                    while after < RENDERS_AFTER_ALL_BUILT {
                        if started.elapsed() > Duration::from_secs(120) {
                            return Err(format!("server {i}: the other servers were not built"));
                        }
                        if built.load(Ordering::SeqCst) == SERVERS {
                            after += 1;
                        }
                        render(&server, Duration::from_secs(10))
                            .await
                            .map_err(|why| format!("server {i}, render {renders}: {why}"))?;
                        renders += 1;
                    }
                    Ok(renders)
                })
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let stalls: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(stalls.is_empty(), "renders stalled: {stalls:#?}");
}

/// Past the render deadline a page that has not started answers 503 with a reference (and
/// nothing internal); the log line with that reference names the path and that it stalled.
/// The stall is leptos' own: the test holds its suppression flag, under which every resource
/// first polled waits for good.
#[test]
fn a_stalled_render_answers_503_with_a_reference_at_the_deadline() {
    let _serial = serial();
    logs::keep_all();
    let runtime = runtime();
    runtime.block_on(async {
        let server = TestServer::start_with(Options {
            vars: vec![("DASHBOARD_RENDER_DEADLINE_SECS", "1".to_string())],
            ..small()
        })
        .await;
        render(&server, Duration::from_secs(30)).await.unwrap();

        let client = server.browser();
        let started = Instant::now();
        let (status, cache_control, body) = {
            let _stall = leptos::server::SuppressResourceLoad::new();
            let response = client.get(server.url("/reports")).send().await.unwrap();
            let status = response.status().as_u16();
            let cache_control = response.headers().get("cache-control").cloned();
            (status, cache_control, response.text().await.unwrap())
        };
        let waited = started.elapsed();
        assert_eq!(status, 503, "{body}");
        assert!(
            waited < Duration::from_secs(10),
            "answered after {waited:?}"
        );
        assert_eq!(cache_control.unwrap(), "no-store");
        let reference = reference_in(&body);
        assert_eq!(
            body,
            format!(
                "The page did not render in time (reference {reference}). Try again in a \
                 moment; the operator finds the detail in the log under that reference.\n"
            )
        );
        let line = logs::kept()
            .lines()
            .find(|line| line.contains(&reference))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no log line names reference {reference}"));
        assert!(line.contains("ERROR"), "{line}");
        assert!(line.contains("page render stalled"), "{line}");
        assert!(
            line.contains("path=\"/reports\"") || line.contains("path=/reports"),
            "{line}"
        );

        // The flag gone, pages render again.
        render(&server, Duration::from_secs(30)).await.unwrap();
    });
}

/// A streamed page whose head has gone out and whose renderer then stalls: the body ends with
/// an error at the deadline instead of hanging, and the log names a reference and the path.
#[test]
fn a_streamed_page_that_stalls_is_cut_off_at_the_deadline() {
    let _serial = serial();
    logs::keep_all();
    let runtime = runtime();
    runtime.block_on(async {
        let server = TestServer::start_with(Options {
            vars: vec![("DASHBOARD_RENDER_DEADLINE_SECS", "1".to_string())],
            ..small()
        })
        .await;
        let client = server.browser();
        let started = Instant::now();
        let (status, body) = {
            let _stall = leptos::server::SuppressResourceLoad::new();
            // Not an Async route: its head goes out before the header's session resolves.
            let response = client
                .get(server.url("/signin-error"))
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await)
        };
        let waited = started.elapsed();
        assert_eq!(status, 200);
        assert!(body.is_err(), "the body ended normally: {body:?}");
        assert!(waited < Duration::from_secs(10), "cut off after {waited:?}");
        let kept = logs::kept();
        let line = kept
            .lines()
            .find(|line| line.contains("stalled while streaming") && line.contains("/signin-error"))
            .unwrap_or_else(|| panic!("no log line for the stalled stream:\n{kept}"));
        let reference: String = line
            .split("reference=\"")
            .nth(1)
            .unwrap_or_default()
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        assert_eq!(reference.len(), 12, "{line}");
    });
}

/// The 12-character reference in `body`.
fn reference_in(body: &str) -> String {
    let reference: String = body
        .split("reference ")
        .nth(1)
        .unwrap_or_else(|| panic!("no reference in {body:?}"))
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    assert_eq!(reference.len(), 12, "{body}");
    reference
}

#[test]
fn the_render_deadline_reads_its_variable() {
    let read = |value: Option<&str>| {
        server::RenderDeadline::from_lookup(|name| {
            assert_eq!(name, "DASHBOARD_RENDER_DEADLINE_SECS");
            value.map(str::to_owned)
        })
    };
    let secs = |n| Ok(server::RenderDeadline(Duration::from_secs(n)));
    assert_eq!(read(None), secs(30));
    assert_eq!(read(Some(" ")), secs(30));
    assert_eq!(read(Some("5")), secs(5));
    assert_eq!(read(Some("3600")), secs(3600));
    for bad in ["0", "3601", "1.5", "-1", "ten"] {
        let error = read(Some(bad)).unwrap_err();
        assert_eq!(error.variable, "DASHBOARD_RENDER_DEADLINE_SECS");
        assert!(error.problem.contains(bad), "{}", error.problem);
    }
}
