//! A page render never waits for good on what another server in the same process does.
//!
//! leptos_server 0.8.8 keeps one process-wide flag, `IS_SUPPRESSING_RESOURCE_LOAD`
//! (src/resource.rs:37), set by `SuppressResourceLoad` while leptos_router's
//! `RouteList::generate` (src/generate_route_list.rs:237) renders the app to list its routes. A
//! `Resource` whose fetch is first polled while it is set awaits `pending()` for good
//! (resource.rs:317), whichever server, runtime or thread it belongs to
//! (leptos-rs/leptos#4773). Every page here reads the session resource, so a page render on one
//! server that starts while another server lists its routes never ends.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Options, TestServer};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

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
