//! Storage and sessions on both databases: SQLite and the real PostgreSQL server.
#![allow(clippy::unwrap_used)]

mod common;

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
    let mut record = Record {
        id: Id::default(),
        data: [("auth.user".to_string(), serde_json::json!({"upn": "a@b.c"}))].into(),
        expiry_date: tower_sessions::cookie::time::OffsetDateTime::now_utc()
            + tower_sessions::cookie::time::Duration::hours(1),
    };
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
    assert_eq!(server.call(&client, "list_customers").await.status(), 200);
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
