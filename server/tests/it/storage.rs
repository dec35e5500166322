//! Storage and sessions on both databases: SQLite and the real PostgreSQL server.

use crate::common;

use app::ssr::storage::{Backend, Storage};
use common::{Db, PgDatabase, TempDir, TestServer, ADMIN_UPN};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::SessionStore;

async fn open(db: &Db) -> (Storage, Option<PgDatabase>, TempDir) {
    let dir = TempDir::new();
    match db {
        Db::Sqlite => {
            let url = format!(
                "sqlite://{}/nested/dir/dashboard.db?mode=rwc",
                dir.path.display()
            );
            (Storage::open(&url).await.unwrap(), None, dir)
        }
        Db::Postgres => {
            let pg = PgDatabase::create().await;
            (Storage::open(&pg.url).await.unwrap(), Some(pg), dir)
        }
    }
}

/// A session of a signed-in admin, valid for an hour.
fn signed_in_session() -> Record {
    Record {
        id: Id::default(),
        data: [("auth.user".to_string(), serde_json::json!({"upn": "a@b.c"}))].into(),
        expiry_date: tower_sessions::cookie::time::OffsetDateTime::now_utc()
            + tower_sessions::cookie::time::Duration::hours(1),
    }
}

async fn migrations_are_idempotent_and_sessions_round_trip(db: Db, backend: Backend) {
    let (storage, _pg, _dir) = open(&db).await;
    assert_eq!(storage.backend, backend);
    storage.ping().await.unwrap();

    // Opening again runs no migration twice.
    let url = match &_pg {
        Some(pg) => pg.url.clone(),
        None => format!(
            "sqlite://{}/nested/dir/dashboard.db?mode=rwc",
            _dir.path.display()
        ),
    };
    Storage::open(&url).await.unwrap();

    let store = storage.session_store();
    let mut record = signed_in_session();
    store.create(&mut record).await.unwrap();
    let loaded = store.load(&record.id).await.unwrap().unwrap();
    assert_eq!(loaded.data, record.data);
    store.delete(&record.id).await.unwrap();
    assert!(store.load(&record.id).await.unwrap().is_none());

    // Expired sessions do not load.
    let mut expired = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: tower_sessions::cookie::time::OffsetDateTime::now_utc()
            - tower_sessions::cookie::time::Duration::minutes(1),
    };
    store.create(&mut expired).await.unwrap();
    assert!(store.load(&expired.id).await.unwrap().is_none());
}

#[tokio::test]
async fn sqlite_storage_and_sessions() {
    migrations_are_idempotent_and_sessions_round_trip(Db::Sqlite, Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_storage_and_sessions() {
    migrations_are_idempotent_and_sessions_round_trip(Db::Postgres, Backend::Postgres).await;
}

#[tokio::test]
async fn sign_in_and_token_refresh_on_postgres() {
    let server = TestServer::start_with(common::Options {
        db: Db::Postgres,
        token_lifetime: std::time::Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    assert_eq!(server.state.storage.backend, Backend::Postgres);
    let (client, page) = server.sign_in(ADMIN_UPN).await;
    assert!(page.text().await.unwrap().contains("data-tenant-id="));
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(server.call_upstream(&client).await.status(), 200);
    let sealed: String = sqlx::query_scalar("SELECT refresh_token_sealed FROM user_credentials")
        .fetch_one(&server.state.storage.pool)
        .await
        .unwrap();
    assert!(!sealed.is_empty());
}

#[tokio::test]
async fn a_bad_database_url_is_a_clear_error() {
    let error = Storage::open("postgres://nobody@127.0.0.1:1/none")
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("cannot open the database"), "{text}");
}

async fn customer_snapshots_round_trip_and_replace_each_other(db: Db) {
    use app::ssr::clock::parse_time;
    use app::ssr::customers::{snapshot, CustomerRecord};
    let (storage, _pg, _dir) = open(&db).await;
    assert_eq!(snapshot::latest_id(&storage).await.unwrap(), None);
    let record = |i: usize, name: &str| CustomerRecord {
        tenant_id: format!("00000000-0000-4000-8000-{i:012}"),
        name: name.to_string(),
        name_folded: name.to_lowercase(),
        dap_enabled: i.is_multiple_of(2),
        dap_since: parse_time(Some("2021-08-06T21:15:04.3461507Z")),
        dap_ended: None,
        last_sign_in: (!i.is_multiple_of(3))
            .then(|| parse_time(Some("2026-01-02T03:04:05Z")).unwrap()),
        partner_agent_count: i as u32,
        partner_sign_in_count: 2 * i as u32,
        global_admin_sign_in_count: 3,
        gdap: [
            app::model::gdap::Coverage::Covered,
            app::model::gdap::Coverage::AtRisk,
            app::model::gdap::Coverage::Unknown,
        ][i % 3],
        gdap_reasons: format!("reason one of {i}\nreason two"),
    };
    // More rows than one INSERT carries, with names that need care.
    let first: Vec<CustomerRecord> = (0..1200)
        .map(|i| {
            record(
                i,
                &format!("\"Quoted\", Ünïcode 東京 <b>{i:04}</b> back\\slash\ttab 🙂 'single'"),
            )
        })
        .collect();
    let now = time::OffsetDateTime::now_utc();
    let info = snapshot::save(&storage, ADMIN_UPN, &first, now)
        .await
        .unwrap();
    assert_eq!(info.customer_count, 1200);
    let loaded = snapshot::load(&storage, &info.id).await.unwrap().unwrap();
    assert_eq!(loaded.info, info);
    assert_eq!(loaded.customers, first, "every field survives the database");

    let second = vec![record(7, "Contoso")];
    let later = snapshot::save(
        &storage,
        ADMIN_UPN,
        &second,
        now + time::Duration::seconds(1),
    )
    .await
    .unwrap();
    assert_eq!(
        snapshot::latest_id(&storage).await.unwrap(),
        Some((later.id, 0))
    );
    assert!(
        snapshot::load(&storage, &info.id).await.unwrap().is_none(),
        "the older snapshot is gone"
    );
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM snapshot_customers")
        .fetch_one(&storage.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn sqlite_customer_snapshots() {
    customer_snapshots_round_trip_and_replace_each_other(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_customer_snapshots() {
    customer_snapshots_round_trip_and_replace_each_other(Db::Postgres).await;
}

/// A long write (a 100,000-customer snapshot being stored) does not lock readers out of SQLite:
/// sessions and pages are read beside it, where a rollback journal made them wait up to the busy
/// timeout and then fail with "database is locked".
#[tokio::test]
async fn sqlite_reads_go_on_beside_an_open_write() {
    let (storage, _pg, _dir) = open(&Db::Sqlite).await;
    let store = storage.session_store();
    let mut record = signed_in_session();
    store.create(&mut record).await.unwrap();

    let mut writing = storage.pool.begin().await.unwrap();
    // More than the writer's page cache holds, so it spills to the database file before commit.
    sqlx::query("PRAGMA cache_size = 10")
        .execute(&mut *writing)
        .await
        .unwrap();
    for chunk in 0..50 {
        let rows: Vec<String> = (0..100)
            .map(|i| format!("('{}-{chunk}-{i}', 'hint', 0)", "x".repeat(200)))
            .collect();
        sqlx::query(&format!(
            "INSERT INTO dismissed_hints (user_key, hint, dismissed_at_ms) VALUES {}",
            rows.join(", ")
        ))
        .execute(&mut *writing)
        .await
        .unwrap();
    }

    let started = std::time::Instant::now();
    let session = store.load(&record.id).await;
    let latest = app::ssr::customers::snapshot::latest_id(&storage).await;
    let waited = started.elapsed();
    assert!(
        session.is_ok() && latest.is_ok(),
        "reads beside the open write failed after {waited:?}: session {:?}, snapshot {:?}",
        session.err(),
        latest.err()
    );
    writing.commit().await.unwrap();
}

/// Everyone who asks for the latest snapshot while it is not in memory shares one load of it:
/// at 100,000 customers a load takes seconds and holds a connection.
async fn callers_at_once_share_one_snapshot_load(db: Db) {
    use app::ssr::customers::{snapshot, CustomerRecord, CustomersService};
    let (storage, _pg, _dir) = open(&db).await;
    let customers: Vec<CustomerRecord> = (0..2_000)
        .map(|i| CustomerRecord {
            tenant_id: format!("00000000-0000-4000-8000-{i:012}"),
            name: format!("Customer {i:05}"),
            name_folded: format!("customer {i:05}"),
            dap_enabled: true,
            dap_since: None,
            dap_ended: None,
            last_sign_in: None,
            partner_agent_count: 0,
            partner_sign_in_count: 0,
            global_admin_sign_in_count: 0,
            gdap: app::model::gdap::Coverage::Unknown,
            gdap_reasons: String::new(),
        })
        .collect();
    snapshot::save(
        &storage,
        ADMIN_UPN,
        &customers,
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();

    let service = CustomersService::default();
    let loads = futures::future::join_all((0..8).map(|_| service.current(&storage))).await;
    let loaded: Vec<_> = loads
        .into_iter()
        .map(|l| l.unwrap().expect("the saved snapshot"))
        .collect();
    assert!(
        loaded.iter().all(|s| std::sync::Arc::ptr_eq(s, &loaded[0])),
        "{} callers made {} copies of the snapshot",
        loaded.len(),
        loaded
            .iter()
            .map(|s| std::sync::Arc::as_ptr(s) as usize)
            .collect::<std::collections::HashSet<_>>()
            .len()
    );
}

#[tokio::test]
async fn sqlite_snapshot_loads_are_shared() {
    callers_at_once_share_one_snapshot_load(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_snapshot_loads_are_shared() {
    callers_at_once_share_one_snapshot_load(Db::Postgres).await;
}

/// Instances claiming background work at the same moment, each with its own pool, never take the
/// same row, and together take every row.
async fn concurrent_claims_take_each_row_once(db: Db) {
    use app::ssr::background::{claim_available, Claimable, Work};
    const REPORTS: usize = 1_000;
    const INSTANCES: usize = 6;
    let (storage, pg, dir) = open(&db).await;
    for chunk in (0..REPORTS).collect::<Vec<_>>().chunks(100) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|i| format!("('report-{i:04}', 'a', 'k', {i}, '')"))
            .collect();
        sqlx::query(&format!(
            "INSERT INTO role_reports (id, started_by, started_by_key, started_at_ms, scope)
             VALUES {}",
            rows.join(", ")
        ))
        .execute(&storage.pool)
        .await
        .unwrap();
    }
    let url = match &pg {
        Some(pg) => pg.url.clone(),
        None => format!(
            "sqlite://{}/nested/dir/dashboard.db?mode=rwc",
            dir.path.display()
        ),
    };
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(INSTANCES));
    let mut instances = Vec::new();
    for n in 0..INSTANCES {
        let instance = Storage::open(&url).await.unwrap();
        let start = start.clone();
        instances.push(tokio::spawn(async move {
            start.wait().await;
            claim_available(
                &instance,
                Work::RoleReport,
                &format!("instance-{n}"),
                Claimable::Unheld,
            )
            .await
            .unwrap()
        }));
    }
    let mut claimed = Vec::new();
    for instance in instances {
        claimed.extend(instance.await.unwrap().into_iter().map(|claim| claim.id));
    }
    claimed.sort();
    let before = claimed.len();
    claimed.dedup();
    assert_eq!(before, claimed.len(), "a row was claimed twice");
    assert_eq!(claimed.len(), REPORTS, "every row claimed");
    // Held rows are not claimable again until their lease lapses.
    let again = claim_available(&storage, Work::RoleReport, "late", Claimable::Unheld)
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
}

#[tokio::test]
async fn sqlite_concurrent_claims() {
    concurrent_claims_take_each_row_once(Db::Sqlite).await;
}

#[tokio::test]
async fn postgres_concurrent_claims() {
    concurrent_claims_take_each_row_once(Db::Postgres).await;
}
