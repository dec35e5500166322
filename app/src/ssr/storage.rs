//! The database: SQLite by default, PostgreSQL when the URL says so. Domain tables go through one
//! `AnyPool` with portable SQL; sessions use tower-sessions' sqlx store on the concrete pool.

use async_trait::async_trait;
use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::AnyPool;
use std::str::FromStr;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct Storage {
    pub pool: AnyPool,
    pub backend: Backend,
    sessions: SessionBackend,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot open the database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot create the folder for the SQLite file: {0}")]
    Folder(std::io::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("session table migration failed: {0}")]
    SessionMigrate(sqlx::Error),
}

/// A request waits at most this long for a connection; an unreachable database fails start-up
/// (and `/healthz`) quickly instead of after sqlx's default 30 s.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Storage {
    /// Opens the database, creating the SQLite file (and its folder) if needed, and migrates it.
    pub async fn open(database_url: &str) -> Result<Self, StorageError> {
        sqlx::any::install_default_drivers();
        let connect_err = |source| StorageError::Connect {
            url: redact_url(database_url),
            source,
        };
        let is_sqlite = database_url.starts_with("sqlite:");
        // sqlx pings a connection each time the pool hands it out, which doubles the round trips
        // of every statement (for SQLite, two hops to its worker thread each). A SQLite
        // connection is a file handle in this process: nothing on the other end can drop it.
        // A PostgreSQL server can, so those connections are still tested.
        let test_before_acquire = !is_sqlite;
        let (backend, sessions, max_connections) = if is_sqlite {
            ensure_sqlite_folder(database_url).map_err(StorageError::Folder)?;
            // Write-ahead log: readers go on beside a writer. With sqlx's default (SQLite's
            // rollback journal) a write larger than the page cache locks every reader out until
            // it commits, and storing a large snapshot outlasts the 5 s busy timeout. The mode
            // stays with the file, so the domain pool opened below uses it too.
            let options = SqliteConnectOptions::from_str(database_url)
                .map_err(connect_err)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal);
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .test_before_acquire(test_before_acquire)
                .connect_with(options)
                .await
                .map_err(connect_err)?;
            (
                Backend::Sqlite,
                SessionBackend::Sqlite(SqliteStore::new(pool)),
                4,
            )
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect(database_url)
                .await
                .map_err(connect_err)?;
            (
                Backend::Postgres,
                SessionBackend::Postgres(PostgresStore::new(pool)),
                16,
            )
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .test_before_acquire(test_before_acquire)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(database_url)
            .await
            .map_err(connect_err)?;
        MIGRATOR.run(&pool).await?;
        sessions
            .migrate()
            .await
            .map_err(StorageError::SessionMigrate)?;
        Ok(Storage {
            pool,
            backend,
            sessions,
        })
    }

    pub fn session_store(&self) -> SessionBackend {
        self.sessions.clone()
    }

    /// For `/healthz`: does the database answer?
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }
}

fn ensure_sqlite_folder(database_url: &str) -> std::io::Result<()> {
    let path = database_url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    match std::path::Path::new(path).parent() {
        Some(parent) if !parent.as_os_str().is_empty() => std::fs::create_dir_all(parent),
        _ => Ok(()),
    }
}

/// Keeps passwords in database URLs out of error messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// tower-sessions' store for whichever database is configured.
#[derive(Debug, Clone)]
pub enum SessionBackend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl SessionBackend {
    async fn migrate(&self) -> sqlx::Result<()> {
        match self {
            SessionBackend::Sqlite(store) => store.migrate().await,
            SessionBackend::Postgres(store) => store.migrate().await,
        }
    }
}

#[async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            SessionBackend::Sqlite(store) => store.create(record).await,
            SessionBackend::Postgres(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            SessionBackend::Sqlite(store) => store.save(record).await,
            SessionBackend::Postgres(store) => store.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            SessionBackend::Sqlite(store) => store.load(id).await,
            SessionBackend::Postgres(store) => store.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            SessionBackend::Sqlite(store) => store.delete(id).await,
            SessionBackend::Postgres(store) => store.delete(id).await,
        }
    }
}

#[async_trait]
impl ExpiredDeletion for SessionBackend {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            SessionBackend::Sqlite(store) => store.delete_expired().await,
            SessionBackend::Postgres(store) => store.delete_expired().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:hunter2@db.example.com/dash"),
            "postgres://app:***@db.example.com/dash"
        );
        assert_eq!(redact_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    /// A review executed before reviews stayed open must not reopen on upgrade: its removed
    /// customers would be "ready" again and a second execution would send them again.
    #[tokio::test]
    async fn reviews_executed_before_0015_stay_closed_with_their_removals_final() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:")
            .await
            .expect("in-memory SQLite");
        let before = sqlx::migrate::Migrator {
            migrations: MIGRATOR
                .migrations
                .iter()
                .filter(|m| m.version < 15)
                .cloned()
                .collect(),
            ..sqlx::migrate::Migrator::DEFAULT
        };
        before.run(&pool).await.expect("migrations up to 0014");
        for statement in [
            "INSERT INTO jobs (id, kind, started_by, started_by_key, created_at_ms, correlation_id,
             review_id, scope) VALUES ('j1', 'remove-dap', 'a', 'k', 1, 'c', 'r1', '')",
            "INSERT INTO job_items (job_id, position, customer_tenant_id,
             organization_display_name, request_id, status, attempts)
             VALUES ('j1', 0, 't-removed', 'Removed', 'q1', 'done', 1)",
            "INSERT INTO reviews (id, title, started_by, started_at_ms, scope, four_eyes,
             executed_by, executed_at_ms, job_id) VALUES ('r1', 'old', 'a', 1, '', 0, 'b', 2, 'j1')",
            "INSERT INTO reviews (id, title, started_by, started_at_ms, scope, four_eyes)
             VALUES ('r2', 'open', 'a', 1, '', 0)",
            "INSERT INTO review_customers (review_id, customer_tenant_id, organization_display_name)
             VALUES ('r1', 't-removed', 'Removed'), ('r1', 't-kept', 'Kept'),
             ('r2', 't-removed', 'Removed')",
        ] {
            sqlx::query(statement)
                .execute(&pool)
                .await
                .expect(statement);
        }
        MIGRATOR.run(&pool).await.expect("0015");
        let customers: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT review_id, customer_tenant_id, executed_job_id FROM review_customers
             ORDER BY review_id, customer_tenant_id",
        )
        .fetch_all(&pool)
        .await
        .expect("review customers");
        let executed = |review: &str, tenant: &str| {
            customers
                .iter()
                .find(|(r, t, _)| r == review && t == tenant)
                .and_then(|(_, _, job)| job.clone())
        };
        assert_eq!(executed("r1", "t-removed").as_deref(), Some("j1"));
        assert_eq!(executed("r1", "t-kept"), None);
        assert_eq!(executed("r2", "t-removed"), None);
        let closed: Vec<(String, Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT id, closed_by, closed_at_ms FROM reviews ORDER BY id")
                .fetch_all(&pool)
                .await
                .expect("reviews");
        assert_eq!(
            closed,
            vec![
                ("r1".to_string(), Some("b".to_string()), Some(2)),
                ("r2".to_string(), None, None)
            ]
        );
    }
}
