//! The store, in SQLite or PostgreSQL: the only place SQL lives.
//!
//! One connection, one writer (the thread of `SharedStore`). Each poll is recorded all at once,
//! so a crash leaves either all of a fetch's items and the source's new state, or none.

mod copy;
mod db;
mod ingest;
mod items;
mod leases;
mod migrations;
mod search;
mod shaped;
mod shared;
mod site;
mod sources;
mod status;
mod stories;
mod webhooks;
mod websub;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use rusqlite::config::DbConfig;

use crate::model::Database;
pub use copy::CopyError;
use db::Db;
pub use db::{Backend, DbError};

pub use ingest::Poll;
pub use items::{ItemFilter, ItemRow, Placement, Tagged};
pub use leases::{Claimed, InstanceSeen, LEADER};
pub use search::{Order, SEARCH_TIME};
pub use shaped::{WantedFullText, WantedFullTexts};
pub use shared::SharedStore;
pub use site::{Changes, PublisherCount, Scope};
pub use sources::StoredSchedule;
pub use status::{PolledBy, SourceStatus, StatusReads};
pub use stories::Nearest;
pub use webhooks::{Delivery, WebhookStatus};
pub use websub::Verified;

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("creating the database folder {path}: {error}")]
    /// The database's folder could not be created.
    CreateFolder {
        /// The folder.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    #[error("creating database {path}: {error}")]
    /// The database file could not be created.
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    #[error("opening database {database}: {error}")]
    /// The database could not be opened (or connected to).
    Open {
        /// The database file, or the server's URL without its password.
        database: String,
        /// Why.
        error: DbError,
    },
    #[error(
        "database {database} is at schema version {found}, newer than this build of Tributary knows ({known}); upgrade Tributary"
    )]
    /// The database was written by a newer Tributary.
    TooNew {
        /// The database file or URL.
        database: String,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    #[error("migrating database {database} to version {version}: {error}")]
    /// A migration failed (and was rolled back).
    Migrate {
        /// The database file or URL.
        database: String,
        /// The version it was migrating to.
        version: i64,
        /// Why.
        error: DbError,
    },
    #[error("database: {0}")]
    /// The database refused a statement.
    Database(#[from] DbError),
    #[error("the search took longer than {} s: narrow it with more words or a field", .0.as_secs())]
    /// A search ran past its time and was stopped.
    TooSlow(Duration),
    #[error("database: encoding JSON: {0}")]
    /// A JSON column could not be encoded.
    Json(#[from] serde_json::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Database(error.into())
    }
}

/// The database of sources and items.
#[derive(Debug)]
pub struct Store {
    db: Db,
    /// The instance whose leases its polls release (several instances on PostgreSQL).
    instance: Option<String>,
    /// What `status` last read of the whole config, kept for the next ask (SQLite).
    kept_statuses: Option<status::KeptStatuses>,
    /// The write-ahead log's checkpoints, on a thread of their own (the store thread's SQLite).
    background_checkpoints: Option<db::BackgroundCheckpoints>,
    /// The saved searches whose matches are kept as items are indexed, with their keys.
    saved_searches: Vec<(crate::search::Query, String)>,
    /// How stories are grouped; `None` when they are off.
    stories: Option<crate::stories::Settings>,
    /// Each source's boilerplate, as stories last read it.
    boilerplate: std::cell::RefCell<stories::Boilerplate>,
}

/// How long a write waits for another process (a `once` beside the daemon) to finish its own.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How many pages of SQLite's write-ahead log a commit leaves before it checkpoints them into
/// the database file, and before the thread checkpointing beside the store thread does (see
/// [`Store::checkpoint_in_background`]).
const CHECKPOINT_PAGES: i32 = 4000;
const BACKGROUND_CHECKPOINT_PAGES: i32 = 1000;

/// Makes the database at `path` readable by its owner alone, creating it empty if it is not
/// there: it holds WebSub and webhook secrets. SQLite gives the write-ahead log and its index
/// the database file's mode when it creates them; files an older version left open to others
/// are closed here too.
fn owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if !path.exists() {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        if meta.permissions().mode() & 0o077 != 0 {
            let closed = std::fs::Permissions::from_mode(meta.permissions().mode() & 0o700);
            if let Err(error) = std::fs::set_permissions(&file, closed) {
                // Another user's file, read by `status`: theirs to close.
                let file = Path::new(&file).display().to_string();
                tracing::warn!(%file, %error, "the database is readable by other users and could not be closed to them");
            }
        }
    }
    Ok(())
}

impl Store {
    /// Opens the database at `location` (the config's `database_location`).
    pub fn open_at(location: &Database) -> Result<Store, StoreError> {
        match location {
            Database::Postgres {
                url,
                password,
                shown,
            } => Store::connect(url, password.as_deref(), shown),
            Database::Sqlite(path) => Store::open(path),
        }
    }

    /// Opens (creating if needed) the SQLite database at `path` and brings its schema up to
    /// date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(|error| StoreError::CreateFolder {
                path: folder.to_path_buf(),
                error,
            })?;
        }
        let open_error = |error: rusqlite::Error| StoreError::Open {
            database: path.display().to_string(),
            error: error.into(),
        };
        owner_only(path).map_err(|error| StoreError::Create {
            path: path.to_path_buf(),
            error,
        })?;
        let mut conn = Connection::open(path).map_err(open_error)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        // WAL lets `status` read while the daemon writes; NORMAL sync is durable against a
        // crash of the process, and a power cut loses at most the last polls, fetched again.
        // A 4 MiB page cache and checkpoints every 4,000 pages (not 1,000) cut a cold ingest of
        // 1,000 feeds by a tenth, for a few MiB of memory.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;
             PRAGMA cache_size = -4096; PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES};
             PRAGMA temp_store = MEMORY;",
        ))
        .map_err(open_error)?;
        migrations::migrate(&mut conn, path)?;
        Store::with(conn)
    }

    /// Connects to the PostgreSQL database at `url` (with `password`, unless the URL has
    /// one; `shown` is the URL without it) and brings its schema up to date.
    pub fn connect(url: &str, password: Option<&str>, shown: &str) -> Result<Store, StoreError> {
        let database = shown.to_string();
        let open_error = |error: postgres::Error| StoreError::Open {
            database: database.clone(),
            error: error.into(),
        };
        let mut options: postgres::Config = url.parse().map_err(open_error)?;
        if let Some(password) = password {
            options.password(password);
        }
        options.application_name("tributary");
        // A database host that went away fails a statement within these instead of hanging
        // the store (the URL may set its own connect_timeout).
        if options.get_connect_timeout().is_none() {
            options.connect_timeout(std::time::Duration::from_secs(10));
        }
        options.tcp_user_timeout(std::time::Duration::from_secs(30));
        options.keepalives_idle(std::time::Duration::from_secs(30));
        let client = db::off_runtime(|| -> Result<postgres::Client, StoreError> {
            let mut client = options.connect(postgres::NoTls).map_err(open_error)?;
            migrations::migrate_postgres(&mut client, &database)?;
            Ok(client)
        })?;
        Ok(Store {
            db: Db::postgres(client, options),
            instance: None,
            kept_statuses: None,
            background_checkpoints: None,
            saved_searches: Vec::new(),
            stories: None,
            boilerplate: Default::default(),
        })
    }

    /// Opens a private in-memory database, for tests.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let mut conn = Connection::open_in_memory()?;
        migrations::migrate(&mut conn, Path::new(":memory:"))?;
        Store::with(conn)
    }

    /// Checkpoints SQLite's write-ahead log on a thread of its own from now on, for a store that
    /// writes much and long (the store thread's): the disk syncs of checkpoints then no longer
    /// hold its writes up (a cold ingest of 1,000 feeds spent a twelfth to a sixth of its time in
    /// them, on two VMs).
    pub fn checkpoint_in_background(&mut self) {
        if self.background_checkpoints.is_none() {
            self.background_checkpoints = self
                .db
                .checkpoint_in_background(BACKGROUND_CHECKPOINT_PAGES, CHECKPOINT_PAGES);
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// Closes the database. SQLite's write-ahead log is checkpointed into the database file
    /// first: the file alone is then a complete copy (users back up with `cp`).
    pub fn close(mut self) -> Result<(), StoreError> {
        if let Some(checkpoints) = self.background_checkpoints.take() {
            self.db.stop_background_checkpoints(checkpoints);
        }
        let Some(conn) = self.db.into_sqlite() else {
            return Ok(());
        };
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        conn.close().map_err(|(_, error)| StoreError::from(error))
    }

    fn with(conn: Connection) -> Result<Store, StoreError> {
        // Every statement of a poll is prepared once and reused: parsing SQL was a quarter of
        // a cold ingest's time. Without the query planner stability guarantee, SQLite (built
        // with STAT4) re-plans some cached statements every time a new value is bound, which
        // cost 8 % of a cold ingest; the database has no statistics that re-planning could use.
        conn.set_prepared_statement_cache_capacity(64);
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        Ok(Store {
            db: Db::sqlite(conn),
            instance: None,
            kept_statuses: None,
            background_checkpoints: None,
            saved_searches: Vec::new(),
            stories: None,
            boilerplate: Default::default(),
        })
    }
}

/// The id Tributary mints for an item when it is first stored, used by every output: a UUID
/// derived from the source's URL and the item's first key, so that it is the same if the
/// database is ever rebuilt from the same feeds.
pub fn public_id(source_url: &str, key: &str) -> String {
    crate::identity::stable_urn(&format!("{source_url}\n{key}"))
}

fn to_unix(time: DateTime<Utc>) -> i64 {
    time.timestamp()
}

fn from_unix(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// The store's tests run on both backends.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::Store;
    use super::db::off_runtime;
    use crate::config::{DEFAULT_DATABASE_LEASE, PostgresConfig};

    /// A configured source read from a file, named `name` if given: what the store's tests
    /// record polls of.
    pub(crate) fn source(url: &str, name: Option<&str>) -> crate::config::SourceConfig {
        crate::config::SourceConfig {
            name: name.map(String::from),
            url: url.into(),
            location: crate::config::SourceLocation::File("x.xml".into()),
            interval: std::time::Duration::from_secs(60),
            tags: vec![],
            declared_in: "tributary.toml".into(),
            declared_line: None,
            fetch: Default::default(),
            kind: Default::default(),
            rules: Vec::new(),
            rewrites: Default::default(),
            full_text: None,
            hub: None,
        }
    }

    /// Records a successful fetch of `items` from `src`, at `at`, keeping every item.
    pub(crate) fn fetched(
        store: &mut Store,
        src: &crate::config::SourceConfig,
        meta: &crate::model::FeedMeta,
        items: &[crate::model::Item],
        at: chrono::DateTime<chrono::Utc>,
    ) -> crate::model::ItemCounts {
        let state = crate::model::FetchState {
            last_status: Some(crate::model::PollStatus::Ok),
            ..Default::default()
        };
        let poll = super::Poll {
            at,
            state: Some(&state),
            webhooks: &[],
            feed: Some((meta, items)),
            event: None,
            rules: &crate::identity::ItemRules {
                max_age: None,
                initial_items: None,
                ..Default::default()
            },
            shaping: &crate::rules::Shaping::default(),
        };
        store.record_poll(src, &poll).unwrap()
    }

    /// Runs `check` on a new SQLite store in memory, then on a PostgreSQL store (see
    /// [`TestDatabase`]).
    pub(crate) fn on_each_backend(test: &str, check: impl Fn(Store)) {
        for (store, _database) in stores(test) {
            eprintln!("{test} on {:?}", store.backend());
            check(store);
        }
    }

    /// [`on_each_backend`] for a `check` that awaits.
    pub(crate) async fn on_each_backend_async<F: Future<Output = ()>>(
        test: &str,
        check: impl Fn(Store) -> F,
    ) {
        for (store, _database) in stores(test) {
            eprintln!("{test} on {:?}", store.backend());
            check(store).await;
        }
    }

    /// Runs `check` on two connections to one new database, in SQLite then in PostgreSQL: what
    /// another process does beside a daemon.
    pub(crate) fn on_each_backend_twice(test: &str, check: impl Fn(Store, Store)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.db");
        eprintln!("{test} on SQLite");
        check(Store::open(&path).unwrap(), Store::open(&path).unwrap());
        if let Some(database) = TestDatabase::create(test) {
            eprintln!("{test} on PostgreSQL");
            let connect = || Store::open_at(&database.config.location()).unwrap();
            check(connect(), connect());
        }
    }

    /// A new store on each backend there is, each with the database it must not outlive.
    fn stores(test: &str) -> Vec<(Store, Option<TestDatabase>)> {
        let mut stores = vec![(Store::open_in_memory().unwrap(), None)];
        if let Some(database) = TestDatabase::create(test) {
            stores.push((
                Store::open_at(&database.config.location()).unwrap(),
                Some(database),
            ));
        }
        stores
    }

    /// A new PostgreSQL database of a test's own on the server `TEST_POSTGRES_URL` names
    /// (`.ci/run` starts one), dropped with it.
    pub(crate) struct TestDatabase {
        admin: String,
        name: String,
        pub config: PostgresConfig,
    }

    impl TestDatabase {
        /// `None` where no server is named: the test says SKIPPED, except under `CI=true`,
        /// where it fails.
        pub(crate) fn create(test: &str) -> Option<TestDatabase> {
            let Ok(admin) = std::env::var("TEST_POSTGRES_URL") else {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "{test}: TEST_POSTGRES_URL is not set; .ci/run starts PostgreSQL and sets it"
                );
                say_skipped(&format!(
                    "SKIPPED {test} on PostgreSQL: set TEST_POSTGRES_URL, see .ci/postgres"
                ));
                return None;
            };
            // Names of PostgreSQL databases are short (63 bytes): numbered, not named by the
            // test.
            static DATABASES: AtomicUsize = AtomicUsize::new(0);
            let name = format!(
                "tributary_unit_{}_{}",
                std::process::id(),
                DATABASES.fetch_add(1, Ordering::Relaxed)
            );
            run(&admin, &format!("DROP DATABASE IF EXISTS {name}"));
            run(&admin, &format!("CREATE DATABASE {name}"));
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&name);
            let config = PostgresConfig {
                url: url.to_string(),
                password: None,
                lease: DEFAULT_DATABASE_LEASE,
            };
            Some(TestDatabase {
                admin,
                name,
                config,
            })
        }
    }

    impl Drop for TestDatabase {
        fn drop(&mut self) {
            run(
                &self.admin,
                &format!("DROP DATABASE {} WITH (FORCE)", self.name),
            );
        }
    }

    /// Says where `cargo test` shows it, straight on stderr (the harness captures `eprintln!`
    /// of a test that passed).
    fn say_skipped(line: &str) {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "{line}");
    }

    /// Runs `sql` on the server, off any Tokio runtime (the client blocks on its own).
    fn run(url: &str, sql: &str) {
        off_runtime(|| {
            let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
            client.batch_execute(sql).unwrap();
        });
    }
}
