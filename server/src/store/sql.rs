//! One way of speaking SQL to either database the store keeps its data in.
//!
//! Every query is written once, in the SQL that SQLite and PostgreSQL share, with SQLite's
//! numbered parameters (`?1`). [`Db`] runs it on a rusqlite connection as written, and on a
//! PostgreSQL connection after [`postgres_dialect`] has rewritten the few spellings the two
//! do not share (parameters, the temporary schema, `json_each`, index hints). The API has
//! rusqlite's shape (execute, query_row, prepare, query_map, transaction), so a query reads
//! the same whichever database runs it, and the SQLite path costs what it cost before.
//!
//! PostgreSQL is reached with the blocking `postgres` client, on the storage threads that
//! already run rusqlite: its statements are prepared once per connection and kept.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Deref;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use rusqlite::types::{FromSql, ToSqlOutput, ValueRef};

use super::{Result, StoreError};

/// Which database a connection speaks to, for the few statements written twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A connection to the store's database.
#[derive(Debug)]
pub struct Db {
    backend: Backend,
}

enum Backend {
    Sqlite(rusqlite::Connection),
    Postgres(Box<RefCell<Pg>>),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite(_) => "Sqlite",
            Backend::Postgres(_) => "Postgres",
        })
    }
}

/// A PostgreSQL connection and the statements prepared on it, by the SQL they were written
/// in. A connection the server dropped is made again before the next statement.
struct Pg {
    url: String,
    client: postgres::Client,
    prepared: HashMap<(String, Vec<Type>), postgres::Statement>,
}

impl Pg {
    fn client(&mut self) -> Result<&mut postgres::Client> {
        if self.client.is_closed() {
            self.client = connect(&self.url)?;
            self.prepared.clear();
        }
        Ok(&mut self.client)
    }

    /// The statement `sql` prepared for parameters of the types `values` have. Each value
    /// names its parameter's type (an integer is `bigint`, text is `text`): SQLite lets a
    /// parameter go unused or stand alone (`?5 IS NULL`), where PostgreSQL could not work out
    /// a type for it. A NULL leaves its type to be worked out from where it stands.
    fn prepare(&mut self, sql: &str, values: &[Value<'_>]) -> Result<postgres::Statement> {
        let types: Vec<Type> = values.iter().map(Value::postgres_type).collect();
        let key = (sql.to_owned(), types);
        if let Some(statement) = self.prepared.get(&key) {
            return Ok(statement.clone());
        }
        let statement = self
            .client()?
            .prepare_typed(&postgres_dialect(sql), &key.1)?;
        self.prepared.insert(key, statement.clone());
        Ok(statement)
    }
}

/// A PostgreSQL connection that keeps its notices ("already exists, skipping") to itself.
fn connect(url: &str) -> Result<postgres::Client> {
    let mut client = postgres::Client::connect(url, postgres::NoTls)?;
    client.batch_execute("SET client_min_messages = warning")?;
    Ok(client)
}

impl Db {
    pub fn sqlite(connection: rusqlite::Connection) -> Db {
        Db {
            backend: Backend::Sqlite(connection),
        }
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://user:password@host/db`).
    pub fn postgres(url: &str) -> Result<Db> {
        let client = connect(url)?;
        Ok(Db {
            backend: Backend::Postgres(Box::new(RefCell::new(Pg {
                url: url.to_owned(),
                client,
                prepared: HashMap::new(),
            }))),
        })
    }

    fn pg(&self) -> Result<std::cell::RefMut<'_, Pg>> {
        match &self.backend {
            Backend::Postgres(pg) => Ok(pg.borrow_mut()),
            Backend::Sqlite(_) => Err(StoreError::Corrupt(
                "a PostgreSQL statement on SQLite".into(),
            )),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs statements without parameters, one after another.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(connection) => Ok(connection.execute_batch(sql)?),
            Backend::Postgres(pg) => Ok(pg
                .borrow_mut()
                .client()?
                .batch_execute(&postgres_dialect(sql))?),
        }
    }

    /// Runs one statement; returns how many rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> Result<usize> {
        self.prepare(sql)?.execute(params)
    }

    /// The first row of a query, read by `read`; [`StoreError::NoRow`] if there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        read: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.prepare(sql)?.query_row(params, read)
    }

    /// The statement `sql`, kept for the next time on either database (rusqlite's statement
    /// cache, PostgreSQL's prepared statements).
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        Ok(Statement {
            db: self,
            prepared: match &self.backend {
                Backend::Sqlite(connection) => Prepared::Sqlite(connection.prepare_cached(sql)?),
                Backend::Postgres(_) => Prepared::Postgres(sql.to_owned()),
            },
        })
    }

    /// Reads every row of a query as it arrives, without holding them all: for copying a
    /// whole database. `read` may not use this connection.
    pub fn each(
        &self,
        sql: &str,
        params: impl Params,
        mut read: impl FnMut(&Row<'_>) -> Result<()>,
    ) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(_) => {
                let mut statement = self.prepare(sql)?;
                let mut rows = statement.query(params)?;
                while let Some(row) = rows.next()? {
                    read(&row)?;
                }
                Ok(())
            }
            Backend::Postgres(pg) => {
                use postgres::fallible_iterator::FallibleIterator;
                let values = params.values();
                let mut pg = pg.borrow_mut();
                let statement = pg.prepare(sql, &values)?;
                let mut rows = pg
                    .client()?
                    .query_raw(&statement, postgres_values(&values))?;
                while let Some(row) = rows.next()? {
                    read(&Row::Postgres(&row))?;
                }
                Ok(())
            }
        }
    }

    /// Waits, inside a transaction, until no other node's transaction that serializes on
    /// `what` is open, and keeps others waiting until this one ends: for rows read in the
    /// order they were numbered, which must commit in that order. SQLite has one writer at
    /// a time already.
    pub fn serialize(&self, what: Serial) -> Result<()> {
        match self.dialect() {
            Dialect::Sqlite => Ok(()),
            Dialect::Postgres => self.query_row(
                "SELECT pg_advisory_xact_lock(?1)",
                [what as i64],
                |_| Ok(()),
            ),
        }
    }

    /// Tells whoever listens on `channel` (the other nodes) `payload`, once the transaction
    /// commits. Nobody else shares a SQLite database, so there it says nothing.
    pub fn notify(&self, channel: &str, payload: &str) -> Result<()> {
        match self.dialect() {
            Dialect::Sqlite => Ok(()),
            Dialect::Postgres => {
                self.query_row("SELECT pg_notify(?1, ?2)", [channel, payload], |_| Ok(()))
            }
        }
    }

    /// Begins a transaction, rolled back unless committed.
    pub fn transaction(&self) -> Result<Transaction<'_>> {
        self.execute_batch("BEGIN")?;
        Ok(Transaction {
            db: self,
            open: true,
        })
    }

    /// Begins a transaction that reads one snapshot of the database throughout. On
    /// PostgreSQL that takes `REPEATABLE READ`; SQLite's transactions always do.
    pub fn snapshot(&self) -> Result<Transaction<'_>> {
        self.execute_batch(match self.dialect() {
            Dialect::Sqlite => "BEGIN",
            Dialect::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ",
        })?;
        Ok(Transaction {
            db: self,
            open: true,
        })
    }
}

/// What writes on several nodes take turns at (the numbers are PostgreSQL advisory lock
/// keys: any that are always the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serial {
    /// Making documents: the catalogue is read in the order they were made.
    Catalogue = 7312,
    /// Changing people: the directory reads them in the order of their revisions.
    People = 7313,
}

/// An open transaction: statements run on it through `Deref`, and it rolls back when
/// dropped uncommitted.
#[derive(Debug)]
pub struct Transaction<'a> {
    db: &'a Db,
    open: bool,
}

impl Transaction<'_> {
    pub fn commit(mut self) -> Result<()> {
        self.open = false;
        self.db.execute_batch("COMMIT")
    }

    /// A savepoint inside this transaction: released by `commit`, undone when dropped.
    pub fn savepoint(&self) -> Result<Savepoint<'_>> {
        self.db.execute_batch("SAVEPOINT grouped")?;
        Ok(Savepoint {
            db: self.db,
            open: true,
        })
    }
}

impl Deref for Transaction<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.db.execute_batch("ROLLBACK");
        }
    }
}

#[derive(Debug)]
pub struct Savepoint<'a> {
    db: &'a Db,
    open: bool,
}

impl Savepoint<'_> {
    pub fn commit(mut self) -> Result<()> {
        self.open = false;
        self.db.execute_batch("RELEASE grouped")
    }
}

impl Deref for Savepoint<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

impl Drop for Savepoint<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self
                .db
                .execute_batch("ROLLBACK TO grouped; RELEASE grouped");
        }
    }
}

/// A prepared statement.
pub struct Statement<'a> {
    db: &'a Db,
    prepared: Prepared<'a>,
}

impl std::fmt::Debug for Statement<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Statement")
    }
}

enum Prepared<'a> {
    Sqlite(rusqlite::CachedStatement<'a>),
    /// Prepared once the types of its parameters are known, on first use.
    Postgres(String),
}

impl<'a> Statement<'a> {
    pub fn execute(&mut self, params: impl Params) -> Result<usize> {
        let values = params.values();
        match &mut self.prepared {
            Prepared::Sqlite(statement) => {
                Ok(statement.execute(rusqlite::params_from_iter(values.iter()))?)
            }
            Prepared::Postgres(sql) => {
                let mut pg = self.db.pg()?;
                let statement = pg.prepare(sql, &values)?;
                let changed = pg
                    .client()?
                    .execute(&statement, &postgres_values(&values))?;
                Ok(usize::try_from(changed).unwrap_or(usize::MAX))
            }
        }
    }

    /// The rows of a query, read one at a time.
    pub fn query(&mut self, params: impl Params) -> Result<Rows<'_>> {
        let values = params.values();
        Ok(Rows {
            inner: match &mut self.prepared {
                Prepared::Sqlite(statement) => {
                    RowsInner::Sqlite(statement.query(rusqlite::params_from_iter(values.iter()))?)
                }
                Prepared::Postgres(sql) => {
                    let mut pg = self.db.pg()?;
                    let statement = pg.prepare(sql, &values)?;
                    // Read whole before the first row is handed out, so that the caller
                    // may run other statements on the connection while it goes through them.
                    let rows = pg.client()?.query(&statement, &postgres_values(&values))?;
                    RowsInner::Postgres(rows.into_iter(), None)
                }
            },
        })
    }

    pub fn query_row<T>(
        &mut self,
        params: impl Params,
        read: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut rows = self.query(params)?;
        match rows.next()? {
            Some(row) => read(&row),
            None => Err(StoreError::NoRow),
        }
    }

    /// Every row of a query, each read by `read`.
    pub fn query_map<T>(
        &mut self,
        params: impl Params,
        mut read: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<std::vec::IntoIter<Result<T>>> {
        let mut rows = self.query(params)?;
        let mut read_rows = Vec::new();
        while let Some(row) = rows.next()? {
            read_rows.push(read(&row));
        }
        Ok(read_rows.into_iter())
    }

    /// The names of the columns the statement answers with.
    pub fn column_names(&self) -> Result<Vec<String>> {
        Ok(match &self.prepared {
            Prepared::Sqlite(statement) => statement
                .column_names()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            Prepared::Postgres(sql) => self
                .db
                .pg()?
                .prepare(sql, &[])?
                .columns()
                .iter()
                .map(|column| column.name().to_owned())
                .collect(),
        })
    }
}

/// The rows of a query.
pub struct Rows<'a> {
    inner: RowsInner<'a>,
}

impl std::fmt::Debug for Rows<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rows")
    }
}

enum RowsInner<'a> {
    Sqlite(rusqlite::Rows<'a>),
    Postgres(std::vec::IntoIter<postgres::Row>, Option<postgres::Row>),
}

impl Rows<'_> {
    pub fn next(&mut self) -> Result<Option<Row<'_>>> {
        match &mut self.inner {
            RowsInner::Sqlite(rows) => Ok(rows.next()?.map(Row::Sqlite)),
            RowsInner::Postgres(rows, current) => {
                *current = rows.next();
                Ok(current.as_ref().map(Row::Postgres))
            }
        }
    }
}

/// One row of a query's answer.
#[derive(Debug)]
pub enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a postgres::Row),
}

/// How a column is named in [`Row::get`]: by its position.
pub trait RowIndex {
    fn position(self) -> usize;
}

impl RowIndex for usize {
    fn position(self) -> usize {
        self
    }
}

impl Row<'_> {
    /// Column `index`, as a `T`; an error if it holds something else, or nothing when `T` is
    /// not an `Option`.
    pub fn get<I: RowIndex, T: Column>(&self, index: I) -> Result<T> {
        let index = index.position();
        let read = match self {
            Row::Sqlite(row) => T::from_sqlite(row.get_ref(index)?),
            Row::Postgres(row) => T::from_postgres(row, index),
        };
        read.map_err(|what| StoreError::Corrupt(format!("column {index}: {what}")))?
            .ok_or_else(|| StoreError::Corrupt(format!("column {index} is empty")))
    }
}

/// A type a column can be read as: `None` is SQL's NULL.
pub trait Column: Sized {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Option<Self>, String>;
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Option<Self>, String>;
}

fn sqlite_column<T: FromSql>(value: ValueRef<'_>) -> Result<Option<T>, String> {
    if value == ValueRef::Null {
        return Ok(None);
    }
    T::column_result(value)
        .map(Some)
        .map_err(|error| error.to_string())
}

fn postgres_column<'r, T: postgres::types::FromSql<'r>>(
    row: &'r postgres::Row,
    index: usize,
) -> Result<Option<T>, String> {
    row.try_get::<_, Option<T>>(index)
        .map_err(|error| error.to_string())
}

fn postgres_type(row: &postgres::Row, index: usize) -> Result<&Type, String> {
    row.columns()
        .get(index)
        .map(|column| column.type_())
        .ok_or_else(|| format!("no column {index}"))
}

impl Column for i64 {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Option<i64>, String> {
        sqlite_column(value)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Option<i64>, String> {
        // SQLite has one integer type; PostgreSQL's counts are `bigint`, but a literal or a
        // comparison comes back as `integer` or `boolean`, and all of them are integers here.
        match *postgres_type(row, index)? {
            Type::INT8 => postgres_column::<i64>(row, index),
            Type::INT4 => Ok(postgres_column::<i32>(row, index)?.map(i64::from)),
            Type::INT2 => Ok(postgres_column::<i16>(row, index)?.map(i64::from)),
            Type::BOOL => Ok(postgres_column::<bool>(row, index)?.map(i64::from)),
            ref other => Err(format!("{other} is not an integer (cast it to bigint)")),
        }
    }
}

impl Column for f64 {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Option<f64>, String> {
        sqlite_column(value)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Option<f64>, String> {
        match *postgres_type(row, index)? {
            Type::FLOAT8 => postgres_column::<f64>(row, index),
            Type::FLOAT4 => Ok(postgres_column::<f32>(row, index)?.map(f64::from)),
            #[allow(clippy::cast_precision_loss)]
            _ => Ok(i64::from_postgres(row, index)?.map(|n| n as f64)),
        }
    }
}

impl Column for bool {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Option<bool>, String> {
        sqlite_column(value)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Option<bool>, String> {
        Ok(i64::from_postgres(row, index)?.map(|n| n != 0))
    }
}

impl Column for String {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Option<String>, String> {
        sqlite_column(value)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Option<String>, String> {
        postgres_column(row, index)
    }
}

impl Column for Vec<u8> {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Option<Vec<u8>>, String> {
        sqlite_column(value)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Option<Vec<u8>>, String> {
        postgres_column(row, index)
    }
}

/// Any column, as the value it holds.
impl Column for Value<'static> {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Option<Value<'static>>, String> {
        Ok(Some(match value {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(n) => Value::Int(n),
            ValueRef::Real(n) => Value::Real(n),
            ValueRef::Text(text) => Value::Text(Cow::Owned(
                String::from_utf8(text.to_vec()).map_err(|e| e.to_string())?,
            )),
            ValueRef::Blob(bytes) => Value::Bytes(Cow::Owned(bytes.to_vec())),
        }))
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Option<Value<'static>>, String> {
        let value = match *postgres_type(row, index)? {
            Type::FLOAT8 | Type::FLOAT4 => f64::from_postgres(row, index)?.map(Value::Real),
            Type::BYTEA => {
                Vec::<u8>::from_postgres(row, index)?.map(|bytes| Value::Bytes(Cow::Owned(bytes)))
            }
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                String::from_postgres(row, index)?.map(|text| Value::Text(Cow::Owned(text)))
            }
            _ => i64::from_postgres(row, index)?.map(Value::Int),
        };
        Ok(Some(value.unwrap_or(Value::Null)))
    }
}

impl<T: Column> Column for Option<T> {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Option<Option<T>>, String> {
        T::from_sqlite(value).map(Some)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Option<Option<T>>, String> {
        T::from_postgres(row, index).map(Some)
    }
}

/// A value bound to a parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(Cow<'a, str>),
    Bytes(Cow<'a, [u8]>),
}

impl From<String> for Value<'static> {
    fn from(text: String) -> Self {
        Value::Text(Cow::Owned(text))
    }
}

impl From<i64> for Value<'static> {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl Value<'_> {
    /// The type of PostgreSQL parameter this value is bound to.
    fn postgres_type(&self) -> Type {
        match self {
            Value::Null => Type::UNKNOWN,
            Value::Int(_) => Type::INT8,
            Value::Real(_) => Type::FLOAT8,
            Value::Text(_) => Type::TEXT,
            Value::Bytes(_) => Type::BYTEA,
        }
    }
}

/// What can be bound to a parameter.
pub trait ToValue {
    fn to_value(&self) -> Value<'_>;
}

impl ToValue for Value<'_> {
    fn to_value(&self) -> Value<'_> {
        match self {
            Value::Null => Value::Null,
            Value::Int(n) => Value::Int(*n),
            Value::Real(n) => Value::Real(*n),
            Value::Text(text) => Value::Text(Cow::Borrowed(text)),
            Value::Bytes(bytes) => Value::Bytes(Cow::Borrowed(bytes)),
        }
    }
}

impl ToValue for i64 {
    fn to_value(&self) -> Value<'_> {
        Value::Int(*self)
    }
}

impl ToValue for i32 {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for u32 {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for u64 {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl ToValue for usize {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value<'_> {
        Value::Real(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value<'_> {
        Value::Text(Cow::Borrowed(self))
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value<'_> {
        Value::Text(Cow::Borrowed(self))
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value<'_> {
        Value::Bytes(Cow::Borrowed(self))
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value<'_> {
        Value::Bytes(Cow::Borrowed(self))
    }
}

impl<const N: usize> ToValue for [u8; N] {
    fn to_value(&self) -> Value<'_> {
        Value::Bytes(Cow::Borrowed(self))
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value<'_> {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value<'_> {
        (**self).to_value()
    }
}

/// The values bound to a statement's parameters, in order.
pub trait Params {
    fn values(&self) -> Vec<Value<'_>>;
}

impl Params for () {
    fn values(&self) -> Vec<Value<'_>> {
        Vec::new()
    }
}

impl<T: ToValue> Params for [T] {
    fn values(&self) -> Vec<Value<'_>> {
        self.iter().map(ToValue::to_value).collect()
    }
}

impl<T: ToValue, const N: usize> Params for [T; N] {
    fn values(&self) -> Vec<Value<'_>> {
        self.iter().map(ToValue::to_value).collect()
    }
}

impl<T: ToValue> Params for Vec<T> {
    fn values(&self) -> Vec<Value<'_>> {
        self.iter().map(ToValue::to_value).collect()
    }
}

impl<P: Params + ?Sized> Params for &P {
    fn values(&self) -> Vec<Value<'_>> {
        (**self).values()
    }
}

/// Parameters of mixed types, as rusqlite's macro of the same name.
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::store::sql::ToValue]
    };
    ($($value:expr),+ $(,)?) => {
        &[$(&$value as &dyn $crate::store::sql::ToValue),+] as &[&dyn $crate::store::sql::ToValue]
    };
}
pub(crate) use params;

/// Reads "no such row" as `None`, as rusqlite's extension of the same name.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(StoreError::NoRow) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(n) => ValueRef::Integer(*n),
            Value::Real(n) => ValueRef::Real(*n),
            Value::Text(text) => ValueRef::Text(text.as_bytes()),
            Value::Bytes(bytes) => ValueRef::Blob(bytes),
        }))
    }
}

impl ToSql for Value<'_> {
    /// Binds the value as the type PostgreSQL worked out for the parameter: SQLite's
    /// integers serve as PostgreSQL's integers of every width, and as its booleans.
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) => match *ty {
                Type::INT8 => n.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::BOOL => (*n != 0).to_sql(ty, out),
                #[allow(clippy::cast_precision_loss)]
                Type::FLOAT8 => (*n as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => n.to_string().to_sql(ty, out),
                ref other => Err(format!("an integer cannot be bound as {other}").into()),
            },
            Value::Real(n) => match *ty {
                Type::FLOAT8 => n.to_sql(ty, out),
                #[allow(clippy::cast_possible_truncation)]
                Type::FLOAT4 => (*n as f32).to_sql(ty, out),
                ref other => Err(format!("a number cannot be bound as {other}").into()),
            },
            Value::Text(text) => match *ty {
                // JSON's binary form is its text.
                Type::JSON => {
                    out.extend_from_slice(text.as_bytes());
                    Ok(IsNull::No)
                }
                _ => text.as_ref().to_sql(ty, out),
            },
            Value::Bytes(bytes) => bytes.as_ref().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn postgres_values<'v>(values: &'v [Value<'_>]) -> Vec<&'v (dyn ToSql + Sync)> {
    values
        .iter()
        .map(|value| value as &(dyn ToSql + Sync))
        .collect()
}

/// Rewrites a statement written for SQLite into PostgreSQL's spelling: `?N` (and `?`)
/// parameters as `$N`; `temp.` as `pg_temp.`; `json_each(?N)` as the elements of a JSON
/// array; `CAST(… AS INTEGER)` as `bigint`; `CROSS JOIN … ON` as `JOIN … ON`; index hints
/// (`INDEXED BY`) dropped, as PostgreSQL's planner takes none.
pub fn postgres_dialect(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut next_anonymous = 1;
    let mut chars = sql.char_indices().peekable();
    let mut in_string = false;
    while let Some((at, c)) = chars.next() {
        if c == '\'' {
            in_string = !in_string;
        }
        if c == '?' && !in_string {
            let digits: String =
                std::iter::from_fn(|| chars.next_if(|(_, d)| d.is_ascii_digit()).map(|(_, d)| d))
                    .collect();
            if digits.is_empty() {
                out.push('$');
                out.push_str(&next_anonymous.to_string());
                next_anonymous += 1;
            } else {
                out.push('$');
                out.push_str(&digits);
            }
            continue;
        }
        if !in_string && starts_word(sql, at) {
            let rest = &sql[at..];
            if let Some(tail) = rest.strip_prefix("temp.") {
                out.push_str("pg_temp.");
                skip(&mut chars, rest.len() - tail.len() - 1);
                continue;
            }
            if let Some(tail) = rest.strip_prefix("json_each(") {
                // json_each(?N) → json_array_elements_text($N::json)
                let end = tail.find(')').unwrap_or(tail.len());
                let argument = postgres_dialect(&tail[..end]);
                out.push_str("json_array_elements_text(");
                out.push_str(&argument);
                out.push_str("::json");
                skip(&mut chars, rest.len() - tail.len() + end - 1);
                continue;
            }
            if let Some(tail) = rest.strip_prefix("INDEXED BY ") {
                let name = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(tail.len());
                skip(&mut chars, rest.len() - tail.len() + name - 1);
                continue;
            }
            // SQLite reads CROSS JOIN … ON as an inner join in the order written, a hint
            // to its planner; PostgreSQL allows ON only on a plain join.
            if let Some(tail) = rest.strip_prefix("CROSS JOIN ") {
                out.push_str("JOIN ");
                skip(&mut chars, rest.len() - tail.len() - 1);
                continue;
            }
            if let Some(tail) = rest.strip_prefix("AS INTEGER)") {
                out.push_str("AS BIGINT)");
                skip(&mut chars, rest.len() - tail.len() - 1);
                continue;
            }
        }
        out.push(c);
    }
    out
}

fn starts_word(sql: &str, at: usize) -> bool {
    sql[..at]
        .chars()
        .next_back()
        .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
}

fn skip(chars: &mut impl Iterator<Item = (usize, char)>, bytes: usize) {
    // Every pattern rewritten is ASCII, so a byte is a character.
    for _ in 0..bytes {
        chars.next();
    }
}

#[cfg(test)]
mod tests {
    use super::postgres_dialect;

    #[test]
    fn sqlite_spellings_become_postgres_ones() {
        assert_eq!(
            postgres_dialect(
                "SELECT a FROM temp.approved WHERE b = ?2 AND c IN (SELECT value FROM json_each(?1))"
            ),
            "SELECT a FROM pg_temp.approved WHERE b = $2 AND c IN (SELECT value FROM json_array_elements_text($1::json))"
        );
        assert_eq!(
            postgres_dialect(
                "SELECT 1 FROM records w INDEXED BY records_by_x WHERE CAST(h.number AS INTEGER) = ? AND d = ?"
            ),
            "SELECT 1 FROM records w  WHERE CAST(h.number AS BIGINT) = $1 AND d = $2"
        );
        assert_eq!(
            postgres_dialect("SELECT '?1 temp.x' FROM attempt.y CROSS JOIN z ON z.a = y.a"),
            "SELECT '?1 temp.x' FROM attempt.y JOIN z ON z.a = y.a"
        );
    }
}
