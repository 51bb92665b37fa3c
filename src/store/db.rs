//! One way to speak to either database: SQLite (embedded, the default) or PostgreSQL (shared by
//! several instances). The store's SQL is written once, in the common subset of both dialects,
//! with SQLite's `?N` placeholders; values go in and come out as SQLite's types (`ToSql`,
//! `FromSql`), which PostgreSQL's are converted to and from. The few statements that differ ask
//! [`Db::backend`].
//!
//! The store runs on one thread, so the PostgreSQL client needs no lock, only a `RefCell`: the
//! methods take `&self`, as SQLite's do.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::error::Error as StdError;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql as PgToSql, Type, to_sql_checked};
use rusqlite::ErrorCode;
use rusqlite::types::{FromSql, ToSql, ToSqlOutput, Value, ValueRef};

/// Why a statement failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    /// SQLite refused it.
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", postgres_message(.0))]
    /// PostgreSQL refused it, or the connection failed.
    Postgres(#[from] postgres::Error),
    #[error("the query returned no row")]
    /// `query_row` found nothing (see [`Optional`]).
    NoRow,
    #[error("column {column}: {error}")]
    /// A value could not be read as the type asked for.
    Column {
        /// Its index in the row.
        column: usize,
        /// Why.
        error: Box<dyn StdError + Send + Sync>,
    },
}

impl DbError {
    /// Whether the statement was stopped for running too long ([`Db::within`]).
    pub fn is_interrupted(&self) -> bool {
        match self {
            DbError::Sqlite(error) => {
                error.sqlite_error_code() == Some(ErrorCode::OperationInterrupted)
            }
            DbError::Postgres(error) => {
                error.code() == Some(&postgres::error::SqlState::QUERY_CANCELED)
            }
            _ => false,
        }
    }
}

/// PostgreSQL's own message (with its detail), not only "db error".
fn postgres_message(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {} ({detail})", db.severity(), db.message()),
            None => format!("{}: {}", db.severity(), db.message()),
        },
        None => error.to_string(),
    }
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// `query_row(...).optional()`: no row is `None`, not an error.
pub trait Optional<T> {
    /// The row's value, `None` if there was no row.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> Optional<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(DbError::NoRow) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// Which database a statement is about to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, a file beside the daemon.
    Sqlite,
    /// PostgreSQL, a server shared by instances.
    Postgres,
}

impl Backend {
    /// A table of the text values of the JSON array `array` (a column or a parameter holding
    /// its text), in a column named `value`.
    pub fn json_values(self, array: &str) -> String {
        match self {
            Backend::Sqlite => format!("json_each({array})"),
            Backend::Postgres => format!("jsonb_array_elements_text(CAST({array} AS TEXT)::jsonb)"),
        }
    }

    /// The aggregate of `expression` over a group's rows as the text of a JSON array (`[]` for
    /// none).
    pub fn json_array_of(self, expression: &str) -> String {
        match self {
            Backend::Sqlite => format!("json_group_array({expression})"),
            Backend::Postgres => format!("COALESCE(CAST(json_agg({expression}) AS TEXT), '[]')"),
        }
    }

    /// The database server's clock, in whole seconds since 1970: what leases are measured by,
    /// so that instances on hosts whose clocks disagree still agree on when a lease ran out.
    pub fn clock(self) -> &'static str {
        match self {
            Backend::Sqlite => "unixepoch()",
            Backend::Postgres => "CAST(floor(extract(epoch FROM clock_timestamp())) AS BIGINT)",
        }
    }

    /// Whether the text `haystack` contains `needle`.
    pub fn contains(self, haystack: &str, needle: &str) -> String {
        match self {
            Backend::Sqlite => format!("instr({haystack}, {needle}) > 0"),
            Backend::Postgres => format!("strpos({haystack}, {needle}) > 0"),
        }
    }
}

/// A connection to either database.
pub struct Db {
    connection: Connection,
    /// How many transactions are open, nested (savepoints inside the outermost).
    depth: Cell<u32>,
}

enum Connection {
    Sqlite(rusqlite::Connection),
    Postgres(Box<RefCell<Pg>>),
}

struct Pg {
    client: PgClient,
    /// How to connect again, after the server closed the connection.
    config: postgres::Config,
    /// Prepared statements, by their SQL as the store wrote it.
    statements: HashMap<String, postgres::Statement>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend())
            .field("depth", &self.depth.get())
            .finish()
    }
}

impl Db {
    pub fn sqlite(connection: rusqlite::Connection) -> Db {
        Db {
            connection: Connection::Sqlite(connection),
            depth: Cell::new(0),
        }
    }

    pub fn postgres(client: postgres::Client, config: postgres::Config) -> Db {
        Db {
            connection: Connection::Postgres(Box::new(RefCell::new(Pg {
                client: PgClient(Some(client)),
                config,
                statements: HashMap::new(),
            }))),
            depth: Cell::new(0),
        }
    }

    pub fn backend(&self) -> Backend {
        match self.connection {
            Connection::Sqlite(_) => Backend::Sqlite,
            Connection::Postgres(_) => Backend::Postgres,
        }
    }

    /// Calls `written` with the rowid of each row of `table` this connection inserts, updates or
    /// deletes (triggers' writes included). Replaces any earlier watch. Does nothing on
    /// PostgreSQL, which tells a client nothing of the kind.
    ///
    /// No rollback hook: rusqlite 0.43 frees a hook's closure before `sqlite3_close` rolls back
    /// a transaction left open, and SQLite then calls the freed closure (a crash, seen when a
    /// panic dropped a store inside a transaction).
    pub fn watch_writes(
        &mut self,
        table: &'static str,
        mut written: impl FnMut(i64) + Send + 'static,
    ) -> Result<()> {
        let Connection::Sqlite(connection) = &mut self.connection else {
            return Ok(());
        };
        connection.update_hook(Some(
            move |_: rusqlite::hooks::Action, _: &str, written_table: &str, rowid: i64| {
                if written_table == table {
                    written(rowid);
                }
            },
        ))?;
        Ok(())
    }

    /// Copies the write-ahead log into the database file on a thread of its own, through a
    /// connection of its own, whenever a commit leaves `background_pages` or more in the log.
    /// This connection still checkpoints by itself once a commit leaves `own_pages`: that
    /// checkpoint, between two of its transactions, finds nearly everything copied already,
    /// and only a writer that begins with the whole log copied starts the log again from its
    /// beginning (a log checkpointed only beside a busy writer grows to the database's size).
    /// Why: a checkpoint waits for the disk to sync what it copied, and on the store thread
    /// every poll waited with it. `None` on PostgreSQL, for a database in memory, and where the
    /// thread could not be started (checkpoints then stay on this connection, as SQLite's
    /// `wal_autocheckpoint` makes them).
    pub fn checkpoint_in_background(
        &mut self,
        background_pages: i32,
        own_pages: i32,
    ) -> Option<BackgroundCheckpoints> {
        let Connection::Sqlite(connection) = &mut self.connection else {
            return None;
        };
        let path = connection
            .path()
            .filter(|path| !path.is_empty())?
            .to_string();
        let started = (|| -> std::result::Result<_, Box<dyn StdError>> {
            let background = rusqlite::Connection::open(&path)?;
            // One nudge waiting is enough: the checkpoint it starts copies all there is.
            let (nudge, nudged) = std::sync::mpsc::sync_channel::<()>(1);
            let thread = std::thread::Builder::new()
                .name("tributary-checkpoint".into())
                .spawn(move || {
                    while nudged.recv().is_ok() {
                        // PASSIVE: copies what no reader still needs, waiting for no one (a
                        // checkpoint already running makes it say "busy", not fail).
                        let checkpoint =
                            background.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                        if let Err(error) = checkpoint {
                            tracing::warn!(%error, "checkpointing the write-ahead log");
                        }
                    }
                })?;
            // Called after each commit with the pages in the log. An error returned here would
            // be reported as the commit's, which stands: a checkpoint that fails is tried again
            // at the next commit. Busy is no failure: the other thread's checkpoint is running.
            connection.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages| {
                if pages >= own_pages {
                    match wal.checkpoint() {
                        Err(error)
                            if error.sqlite_error_code() != Some(ErrorCode::DatabaseBusy) =>
                        {
                            tracing::warn!(%error, "checkpointing the write-ahead log");
                        }
                        _ => {}
                    }
                } else if pages >= background_pages {
                    let _ = nudge.try_send(());
                }
                Ok(())
            }))?;
            Ok(thread)
        })();
        match started {
            Ok(thread) => Some(BackgroundCheckpoints { thread, own_pages }),
            Err(error) => {
                tracing::warn!(%error, database = %path, "checkpoints stay on the store thread");
                None
            }
        }
    }

    /// Ends the checkpoints [`Db::checkpoint_in_background`] started, once the one running is
    /// done; this connection then checkpoints all by itself, at the same size.
    pub fn stop_background_checkpoints(&mut self, checkpoints: BackgroundCheckpoints) {
        let Connection::Sqlite(connection) = &mut self.connection else {
            return;
        };
        // Dropping the hook drops the thread's only nudge, which ends the thread.
        let none: Option<fn(&mut rusqlite::hooks::Wal, i32) -> rusqlite::Result<()>> = None;
        let stopped = connection.wal_hook(none).and_then(|()| {
            connection.pragma_update(None, "wal_autocheckpoint", checkpoints.own_pages)
        });
        match stopped {
            Ok(()) => drop(checkpoints.thread.join()),
            Err(error) => tracing::warn!(%error, "stopping the background checkpoints"),
        }
    }

    /// SQLite's `PRAGMA data_version`: changed whenever another connection committed since it
    /// was last read; `None` on PostgreSQL.
    pub fn data_version(&self) -> Result<Option<i64>> {
        match &self.connection {
            Connection::Sqlite(connection) => Ok(Some(connection.query_row(
                "PRAGMA data_version",
                [],
                |row| row.get(0),
            )?)),
            Connection::Postgres(_) => Ok(None),
        }
    }

    pub fn into_sqlite(self) -> Option<rusqlite::Connection> {
        match self.connection {
            Connection::Sqlite(connection) => Some(connection),
            Connection::Postgres(_) => None,
        }
    }

    /// Runs `work`, stopping any statement of it still running after `limit`: a search may
    /// not hold the store. Outside a transaction only (a stopped statement ends PostgreSQL's).
    pub fn within<R>(&self, limit: std::time::Duration, work: impl FnOnce() -> R) -> Result<R> {
        match &self.connection {
            Connection::Sqlite(connection) => {
                // Interrupted from a timer thread, unless `work` is done first.
                let interrupt = connection.get_interrupt_handle();
                let (done, finished) = std::sync::mpsc::channel::<()>();
                let timer = std::thread::spawn(move || {
                    if finished.recv_timeout(limit)
                        == Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                    {
                        interrupt.interrupt();
                    }
                });
                let result = work();
                drop(done);
                let _ = timer.join();
                Ok(result)
            }
            Connection::Postgres(_) => {
                let millis = limit.as_millis().max(1);
                self.execute_batch(&format!("SET statement_timeout = {millis}"))?;
                let done = work();
                self.execute_batch("SET statement_timeout = 0")?;
                Ok(done)
            }
        }
    }

    /// Runs statements without parameters, one after the other.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        self.reconnect_if_closed();
        match &self.connection {
            Connection::Sqlite(connection) => Ok(connection.execute_batch(sql)?),
            Connection::Postgres(pg) => Ok(on_client(pg, |client| client.batch_execute(sql))?),
        }
    }

    /// Runs one statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    /// The first row the query returns, read by `read`; [`DbError::NoRow`] if none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        read: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.prepare_cached(sql)?.query_row(params, read)
    }

    /// Inserts one row with a plain INSERT (no ON CONFLICT, no RETURNING) and gives its `id`.
    /// SQLite reads the id off the connection: to SQLite a RETURNING clause is a trigger, which
    /// makes the INSERT a statement it journals page by page in case it must be undone halfway
    /// (an eighth of the store's time in a cold ingest).
    pub fn insert(&self, sql: &str, params: impl Params) -> Result<i64> {
        match &self.connection {
            Connection::Sqlite(connection) => {
                self.prepare_cached(sql)?.execute(params)?;
                Ok(connection.last_insert_rowid())
            }
            Connection::Postgres(_) => self
                .prepare_cached(&format!("{sql} RETURNING id"))?
                .query_row(params, |row| row.get(0)),
        }
    }

    /// Inserts `rows` with a plain INSERT (`sql` up to `VALUES`, then `row`, the placeholders
    /// of one row numbered from ?1) and gives their `id`s, in the rows' order. SQLite inserts
    /// them one at a time, as [`Db::insert`]. PostgreSQL takes `ROWS_PER_INSERT` to a
    /// statement, as each statement is a round trip; it inserts them in order, but does not
    /// promise to return them so, so each returned id is matched to its row by the text column
    /// `sentinel` names, which is the row's parameter at `sentinel.1` and differs from row to
    /// row.
    pub fn insert_all(
        &self,
        sql: &str,
        row: &str,
        rows: &[Vec<&dyn ToSql>],
        sentinel: (&str, usize),
    ) -> Result<Vec<i64>> {
        if let Connection::Sqlite(_) = &self.connection {
            let one = format!("{sql} VALUES ({row})");
            return rows
                .iter()
                .map(|values| self.insert(&one, values))
                .collect();
        }
        let (column, index) = sentinel;
        let width = rows.first().map_or(0, Vec::len);
        let mut ids = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let values = repeated_rows(row, width, chunk.len());
            let statement = format!("{sql} VALUES {values} RETURNING id, {column}");
            let returned: HashMap<String, i64> = self
                .prepare_cached(&statement)?
                .query_map(chunk.concat(), |r| Ok((r.get(1)?, r.get(0)?)))?
                .collect::<Result<_>>()?;
            for values in chunk {
                let told = values.get(index).map(|v| owned_values(&[*v])).transpose()?;
                let id = match told.as_deref() {
                    Some([Value::Text(told)]) => returned.get(told),
                    _ => None,
                };
                ids.push(*id.ok_or_else(|| DbError::Column {
                    column: index,
                    error: format!("no id returned for a row of {column} {told:?}").into(),
                })?);
            }
        }
        Ok(ids)
    }

    /// A statement kept prepared for the next time the same SQL runs.
    pub fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>> {
        self.reconnect_if_closed();
        let inner = match &self.connection {
            Connection::Sqlite(connection) => {
                SqliteOrPg::Sqlite(SqliteStatement::Cached(connection.prepare_cached(sql)?))
            }
            Connection::Postgres(pg) => SqliteOrPg::Postgres {
                pg,
                statement: prepared(pg, sql)?,
            },
        };
        Ok(Statement { inner })
    }

    /// A statement made up at run time (a list of columns or values), prepared for this once.
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        self.reconnect_if_closed();
        Ok(Statement {
            inner: match &self.connection {
                Connection::Sqlite(connection) => {
                    SqliteOrPg::Sqlite(SqliteStatement::Plain(connection.prepare(sql)?))
                }
                Connection::Postgres(pg) => {
                    let sql = placeholders(sql);
                    let statement = on_client(pg, |client| client.prepare(&sql))?;
                    SqliteOrPg::Postgres { pg, statement }
                }
            },
        })
    }

    /// Opens a transaction, or a savepoint inside the open one; rolled back unless committed.
    pub fn transaction(&self) -> Result<Transaction<'_>> {
        self.begin(false)
    }

    /// A transaction that takes the write lock at once (SQLite's `BEGIN IMMEDIATE`), so that it
    /// never fails halfway for another process's write.
    pub fn write_transaction(&self) -> Result<Transaction<'_>> {
        self.begin(true)
    }

    fn begin(&self, immediate: bool) -> Result<Transaction<'_>> {
        self.resync();
        let depth = self.depth.get();
        let sql = match (depth, self.backend(), immediate) {
            (0, Backend::Sqlite, true) => "BEGIN IMMEDIATE".to_string(),
            (0, _, _) => "BEGIN".to_string(),
            (n, _, _) => format!("SAVEPOINT tributary_{n}"),
        };
        self.execute_batch(&sql)?;
        self.depth.set(depth + 1);
        Ok(Transaction {
            db: self,
            depth,
            open: true,
        })
    }

    /// Opens the store thread's batch of polls: a write transaction not tied to a guard, ended
    /// by [`Db::commit_batch`]. The polls' transactions are savepoints inside it.
    pub fn begin_batch(&self) -> Result<()> {
        self.write_transaction().map(std::mem::forget)
    }

    /// Commits the batch; a failed commit keeps nothing of it.
    pub fn commit_batch(&self) -> Result<()> {
        let committed = self.execute_batch("COMMIT");
        if committed.is_err() && self.in_transaction() {
            let _ = self.execute_batch("ROLLBACK");
        }
        self.depth.set(0);
        committed
    }

    /// Whether a transaction is open. SQLite rolls a whole transaction back by itself on some
    /// errors (a full disk); what is counted then no longer holds.
    pub fn in_transaction(&self) -> bool {
        self.resync();
        self.depth.get() > 0
    }

    fn resync(&self) {
        if let Connection::Sqlite(connection) = &self.connection
            && connection.is_autocommit()
        {
            self.depth.set(0);
        }
    }

    /// Connects to PostgreSQL again if the server closed the connection (it restarted, or the
    /// network cut it): the statement that found it closed failed, the next ones need not.
    /// Never inside a transaction, which ended with the connection.
    fn reconnect_if_closed(&self) {
        let Connection::Postgres(pg) = &self.connection else {
            return;
        };
        let mut pg = pg.borrow_mut();
        if self.depth.get() > 0 || !pg.client.is_closed() {
            return;
        }
        let config = pg.config.clone();
        match off_runtime(move || config.connect(postgres::NoTls)) {
            Ok(client) => {
                pg.client = PgClient(Some(client));
                pg.statements.clear();
                tracing::info!("connected to PostgreSQL again");
            }
            Err(error) => {
                tracing::warn!(error = %postgres_message(&error), "connecting to PostgreSQL again failed");
            }
        }
    }
}

/// The thread [`Db::checkpoint_in_background`] started. Dropped with its connection, it ends
/// by itself.
#[derive(Debug)]
pub struct BackgroundCheckpoints {
    thread: std::thread::JoinHandle<()>,
    own_pages: i32,
}

/// An open transaction (or savepoint); rolled back when dropped uncommitted.
pub struct Transaction<'d> {
    db: &'d Db,
    depth: u32,
    open: bool,
}

impl Transaction<'_> {
    pub fn commit(mut self) -> Result<()> {
        self.open = false;
        self.end(true)
    }

    pub fn rollback(mut self) -> Result<()> {
        self.open = false;
        self.end(false)
    }

    fn end(&self, keep: bool) -> Result<()> {
        self.db.resync();
        if self.db.depth.get() <= self.depth {
            // SQLite already rolled it back.
            return Ok(());
        }
        let sql = match (self.depth, keep) {
            (0, true) => "COMMIT".to_string(),
            (0, false) => "ROLLBACK".to_string(),
            (n, true) => format!("RELEASE SAVEPOINT tributary_{n}"),
            (n, false) => {
                format!("ROLLBACK TO SAVEPOINT tributary_{n}; RELEASE SAVEPOINT tributary_{n}")
            }
        };
        let ended = self.db.execute_batch(&sql);
        if ended.is_ok() || self.depth == 0 {
            self.db.depth.set(self.depth);
        }
        if ended.is_err() && self.depth == 0 && self.db.backend() == Backend::Postgres {
            // A failed COMMIT ends PostgreSQL's transaction; nothing of it is kept.
            let _ = self.db.execute_batch("ROLLBACK");
        }
        ended
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open
            && let Err(error) = self.end(false)
        {
            tracing::warn!(%error, "rolling back a transaction");
        }
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

/// A prepared statement.
pub struct Statement<'d> {
    inner: SqliteOrPg<'d>,
}

enum SqliteOrPg<'d> {
    Sqlite(SqliteStatement<'d>),
    Postgres {
        pg: &'d RefCell<Pg>,
        statement: postgres::Statement,
    },
}

enum SqliteStatement<'d> {
    Cached(rusqlite::CachedStatement<'d>),
    Plain(rusqlite::Statement<'d>),
}

impl<'d> SqliteStatement<'d> {
    fn get(&mut self) -> &mut rusqlite::Statement<'d> {
        match self {
            SqliteStatement::Cached(statement) => statement,
            SqliteStatement::Plain(statement) => statement,
        }
    }
}

/// The PostgreSQL client, closed off any Tokio runtime when dropped: closing blocks on the
/// client's own runtime, which panics on a thread that drives another (a command failing on
/// the main thread drops its store there).
struct PgClient(Option<postgres::Client>);

impl Drop for PgClient {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            off_runtime(move || drop(client));
        }
    }
}

impl std::ops::Deref for PgClient {
    type Target = postgres::Client;
    #[expect(clippy::expect_used, reason = "None only inside drop")]
    fn deref(&self) -> &postgres::Client {
        self.0.as_ref().expect("taken only when dropped")
    }
}

impl std::ops::DerefMut for PgClient {
    #[expect(clippy::expect_used, reason = "None only inside drop")]
    fn deref_mut(&mut self) -> &mut postgres::Client {
        self.0.as_mut().expect("taken only when dropped")
    }
}

/// Runs `work` on the PostgreSQL client.
fn on_client<R: Send>(pg: &RefCell<Pg>, work: impl FnOnce(&mut postgres::Client) -> R + Send) -> R {
    let client = &mut *pg.borrow_mut().client;
    off_runtime(|| work(client))
}

/// Runs `work`, which blocks on the PostgreSQL client's own runtime, off any Tokio runtime the
/// calling thread drives (commands run inside the main one; the store's thread is outside).
pub(super) fn off_runtime<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(done) => done,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

fn prepared(pg: &RefCell<Pg>, sql: &str) -> Result<postgres::Statement> {
    let mut pg = pg.borrow_mut();
    if let Some(statement) = pg.statements.get(sql) {
        return Ok(statement.clone());
    }
    let translated = placeholders(sql);
    let client = &mut *pg.client;
    let statement = off_runtime(|| client.prepare(&translated))?;
    pg.statements.insert(sql.to_string(), statement.clone());
    Ok(statement)
}

impl Statement<'_> {
    /// Runs it; the number of rows it changed.
    pub fn execute(&mut self, params: impl Params) -> Result<usize> {
        match &mut self.inner {
            SqliteOrPg::Sqlite(statement) => params.with(|values| {
                Ok(statement
                    .get()
                    .execute(rusqlite::params_from_iter(values))?)
            }),
            SqliteOrPg::Postgres { pg, statement } => {
                let values = pg_values(&params)?;
                let changed =
                    on_client(pg, |client| client.execute(&*statement, &pg_refs(&values)))?;
                Ok(usize::try_from(changed).unwrap_or(usize::MAX))
            }
        }
    }

    /// The first row, read by `read`; [`DbError::NoRow`] if none.
    pub fn query_row<T>(
        &mut self,
        params: impl Params,
        read: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        match &mut self.inner {
            SqliteOrPg::Sqlite(statement) => params.with(|values| {
                let mut rows = statement.get().query(rusqlite::params_from_iter(values))?;
                match rows.next()? {
                    Some(row) => read(&Row(RowOf::Sqlite(row))),
                    None => Err(DbError::NoRow),
                }
            }),
            SqliteOrPg::Postgres { pg, statement } => {
                let values = pg_values(&params)?;
                let rows = on_client(pg, |client| client.query(&*statement, &pg_refs(&values)))?;
                match rows.first() {
                    Some(row) => read(&Row(RowOf::Postgres(row))),
                    None => Err(DbError::NoRow),
                }
            }
        }
    }

    /// Every row, each read by `read`.
    pub fn query_map<T>(
        &mut self,
        params: impl Params,
        mut read: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let mut read_all = Vec::new();
        match &mut self.inner {
            SqliteOrPg::Sqlite(statement) => params.with(|values| -> Result<()> {
                let mut rows = statement.get().query(rusqlite::params_from_iter(values))?;
                while let Some(row) = rows.next()? {
                    read_all.push(read(&Row(RowOf::Sqlite(row))));
                }
                Ok(())
            })?,
            SqliteOrPg::Postgres { pg, statement } => {
                let values = pg_values(&params)?;
                let rows = on_client(pg, |client| client.query(&*statement, &pg_refs(&values)))?;
                read_all.extend(rows.iter().map(|row| read(&Row(RowOf::Postgres(row)))));
            }
        }
        Ok(read_all.into_iter())
    }
}

/// A row of a result.
pub struct Row<'r>(RowOf<'r>);

enum RowOf<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

/// What a column is asked by: its index (from 0) or its name.
pub trait ColumnIndex {
    /// The column's index in `row`.
    fn index_in(&self, row: &Row<'_>) -> Result<usize>;
}

impl ColumnIndex for usize {
    fn index_in(&self, _: &Row<'_>) -> Result<usize> {
        Ok(*self)
    }
}

impl ColumnIndex for &str {
    fn index_in(&self, row: &Row<'_>) -> Result<usize> {
        match &row.0 {
            RowOf::Sqlite(sqlite) => Ok(sqlite.as_ref().column_index(self)?),
            RowOf::Postgres(pg) => pg
                .columns()
                .iter()
                .position(|c| c.name() == *self)
                .ok_or_else(|| DbError::Column {
                    column: 0,
                    error: format!("no column named {self}").into(),
                }),
        }
    }
}

impl Row<'_> {
    /// The value of column `index`, as `T`.
    pub fn get<I: ColumnIndex, T: FromSql>(&self, index: I) -> Result<T> {
        let column = index.index_in(self)?;
        let column_error = |error: rusqlite::types::FromSqlError| DbError::Column {
            column,
            error: Box::new(error),
        };
        match &self.0 {
            RowOf::Sqlite(row) => Ok(row.get(column)?),
            RowOf::Postgres(row) => {
                let value = pg_column(row, column)?;
                T::column_result(ValueRef::from(&value)).map_err(column_error)
            }
        }
    }

    /// The text of `column`, borrowed from the row rather than copied.
    pub fn text(&self, column: usize) -> Result<&str> {
        match &self.0 {
            RowOf::Sqlite(row) => {
                let value = row.get_ref(column)?;
                value.as_str().map_err(|error| DbError::Column {
                    column,
                    error: Box::new(error),
                })
            }
            RowOf::Postgres(row) => Ok(row.try_get(column)?),
        }
    }
}

/// A PostgreSQL column as the SQLite value it stands for.
fn pg_column(row: &postgres::Row, column: usize) -> Result<Value> {
    let ty = row
        .columns()
        .get(column)
        .map(|c| c.type_().clone())
        .ok_or_else(|| DbError::Column {
            column,
            error: "no such column".into(),
        })?;
    let value = match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(column)?.map(Value::Integer),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(column)?
            .map(|v| Value::Integer(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(column)?
            .map(|v| Value::Integer(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(column)?
            .map(|v| Value::Integer(v.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(column)?.map(Value::Real),
        Type::FLOAT4 => row
            .try_get::<_, Option<f32>>(column)?
            .map(|v| Value::Real(v.into())),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(column)?.map(Value::Blob),
        _ => row.try_get::<_, Option<String>>(column)?.map(Value::Text),
    };
    Ok(value.unwrap_or(Value::Null))
}

/// A statement's parameters: `params![…]`, an array or slice of values, or `()` for none.
pub trait Params {
    /// Calls `f` with the parameters as a slice.
    fn with<R>(&self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R;
}

impl Params for () {
    fn with<R>(&self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        f(&[])
    }
}

impl<T: ToSql, const N: usize> Params for [T; N] {
    fn with<R>(&self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        let values: [&dyn ToSql; N] = std::array::from_fn(|i| &self[i] as &dyn ToSql);
        f(&values)
    }
}

impl<T: ToSql> Params for [T] {
    fn with<R>(&self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        let values: Vec<&dyn ToSql> = self.iter().map(|v| v as &dyn ToSql).collect();
        f(&values)
    }
}

impl<T: ToSql> Params for Vec<T> {
    fn with<R>(&self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        self.as_slice().with(f)
    }
}

impl<P: Params + ?Sized> Params for &P {
    fn with<R>(&self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        (**self).with(f)
    }
}

/// Rows a PostgreSQL INSERT of [`Db::insert_all`] carries.
const ROWS_PER_INSERT: usize = 32;

/// `count` rows of VALUES, each `row` (of `width` placeholders numbered from ?1) with its
/// placeholders numbered on from the row before's: `(?1, ?2), (?3, ?4)`.
pub fn repeated_rows(row: &str, width: usize, count: usize) -> String {
    let rows: Vec<String> = (0..count)
        .map(|n| format!("({})", renumbered(row, n * width)))
        .collect();
    rows.join(", ")
}

/// `sql`'s numbered placeholders (`?N`) moved up by `by`.
fn renumbered(sql: &str, by: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '?' {
            let mut number = String::new();
            while let Some(digit) = chars.next_if(char::is_ascii_digit) {
                number.push(digit);
            }
            match number.parse::<usize>() {
                Ok(n) => out.push_str(&(n + by).to_string()),
                Err(_) => out.push_str(&number),
            }
        }
    }
    out
}

/// Each of `params` as an owned value.
fn owned_values(params: &[&dyn ToSql]) -> Result<Vec<Value>> {
    params
        .iter()
        .map(|value| {
            Ok(match value.to_sql()? {
                ToSqlOutput::Borrowed(value) => owned(value),
                ToSqlOutput::Owned(value) => value,
                _ => {
                    return Err(DbError::Column {
                        column: 0,
                        error: "a parameter of a kind not stored".into(),
                    });
                }
            })
        })
        .collect()
}

/// SQLite's placeholders (`?N`, or `?` counted) as PostgreSQL's (`$N`); string literals are
/// left as they are.
fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut counted = 0;
    let mut in_literal = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_literal = !in_literal;
                out.push(c);
            }
            '?' if !in_literal => {
                let mut number = String::new();
                while let Some(digit) = chars.next_if(char::is_ascii_digit) {
                    number.push(digit);
                }
                if number.is_empty() {
                    counted += 1;
                    number = counted.to_string();
                }
                out.push('$');
                out.push_str(&number);
            }
            _ => out.push(c),
        }
    }
    out
}

/// The parameters as PostgreSQL values.
fn pg_values(params: &impl Params) -> Result<Vec<PgValue>> {
    let values = params.with(owned_values)?;
    Ok(values.into_iter().map(PgValue).collect())
}

fn owned(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(v) => Value::Integer(v),
        ValueRef::Real(v) => Value::Real(v),
        ValueRef::Text(v) => Value::Text(String::from_utf8_lossy(v).into_owned()),
        ValueRef::Blob(v) => Value::Blob(v.to_vec()),
    }
}

fn pg_refs(values: &[PgValue]) -> Vec<&(dyn PgToSql + Sync)> {
    values.iter().map(|v| v as &(dyn PgToSql + Sync)).collect()
}

/// A SQLite value bound to a PostgreSQL parameter of whatever type PostgreSQL inferred for it:
/// SQLite's integers stand for PostgreSQL's integers, booleans and floats alike.
#[derive(Debug)]
struct PgValue(Value);

impl PgToSql for PgValue {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match (&self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Integer(v), &Type::INT8) => PgToSql::to_sql(v, ty, out),
            (Value::Integer(v), &Type::INT4) => PgToSql::to_sql(&i32::try_from(*v)?, ty, out),
            (Value::Integer(v), &Type::INT2) => PgToSql::to_sql(&i16::try_from(*v)?, ty, out),
            (Value::Integer(v), &Type::BOOL) => PgToSql::to_sql(&(*v != 0), ty, out),
            (Value::Integer(v), &Type::FLOAT8) => PgToSql::to_sql(&(*v as f64), ty, out),
            (Value::Integer(v), _) => PgToSql::to_sql(&v.to_string(), &Type::TEXT, out),
            (Value::Real(v), &Type::FLOAT8) => PgToSql::to_sql(v, ty, out),
            (Value::Real(v), &Type::FLOAT4) => PgToSql::to_sql(&(*v as f32), ty, out),
            (Value::Real(v), _) => PgToSql::to_sql(&v.to_string(), &Type::TEXT, out),
            (Value::Text(v), &Type::BYTEA) => PgToSql::to_sql(&v.as_bytes(), ty, out),
            (Value::Text(v), _) => PgToSql::to_sql(&v.as_str(), &Type::TEXT, out),
            (Value::Blob(v), _) => PgToSql::to_sql(&v.as_slice(), &Type::BYTEA, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::{Db, placeholders};

    /// A database in WAL mode at `path` with a table of blobs, each row a page of the log.
    fn wal_database(path: &std::path::Path) -> Db {
        let connection = rusqlite::Connection::open(path).unwrap();
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
                 CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB);",
            )
            .unwrap();
        Db::sqlite(connection)
    }

    /// Commits a transaction that adds about `pages` pages to the log.
    fn commit_pages(db: &Db, pages: usize) {
        let tx = db.transaction().unwrap();
        for _ in 0..pages {
            tx.execute("INSERT INTO blobs (body) VALUES (zeroblob(3000))", ())
                .unwrap();
        }
        tx.commit().unwrap();
    }

    /// How many rows the database file alone holds, without its log (a copy of it, opened
    /// where no log is).
    fn rows_in_file_alone(path: &std::path::Path) -> i64 {
        let copy = tempfile::tempdir().unwrap();
        let alone = copy.path().join("alone.db");
        std::fs::copy(path, &alone).unwrap();
        let connection = rusqlite::Connection::open(&alone).unwrap();
        connection
            .query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))
            .unwrap_or(0)
    }

    #[test]
    fn the_log_is_checkpointed_beside_the_writer_and_starts_again_from_its_beginning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let mut db = wal_database(&path);

        // Past the background size, below the writer's own: the other thread copies the log
        // into the file, while the writer does nothing more.
        let checkpoints = db.checkpoint_in_background(10, 40).unwrap();
        commit_pages(&db, 20);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while rows_in_file_alone(&path) < 20 {
            assert!(
                std::time::Instant::now() < deadline,
                "the log was not checkpointed beside the writer"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        db.stop_background_checkpoints(checkpoints);

        // A writer that goes on checkpoints by itself at its size, between its transactions,
        // so the log starts again from its beginning instead of growing by all that is
        // written; and so it does once the thread is stopped. (Nothing nudges the thread here:
        // were its checkpoint running when the writer's came, the writer's would wait for the
        // next commit, and the log's size would depend on timing.)
        let log_size = || {
            std::fs::metadata(dir.path().join("wal.db-wal"))
                .unwrap()
                .len()
        };
        let checkpoints = db.checkpoint_in_background(1_000, 40).unwrap();
        let mut largest = 0;
        for _ in 0..100 {
            commit_pages(&db, 5);
            largest = largest.max(log_size());
        }
        db.stop_background_checkpoints(checkpoints);
        for _ in 0..100 {
            commit_pages(&db, 5);
            largest = largest.max(log_size());
        }
        assert!(
            largest < 80 * 4096,
            "the log grew to {largest} bytes, with 1,000 pages written"
        );
        let rows: i64 = db
            .query_row("SELECT count(*) FROM blobs", (), |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1_020);
    }

    #[test]
    fn placeholders_become_dollars_outside_literals() {
        assert_eq!(
            placeholders("SELECT ?1, ?12 FROM t WHERE a = '?' AND b = ?2"),
            "SELECT $1, $12 FROM t WHERE a = '?' AND b = $2"
        );
        assert_eq!(placeholders("VALUES (?, ?)"), "VALUES ($1, $2)");
    }
}
