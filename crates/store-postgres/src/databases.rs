//! Fresh databases for measurements (`customs bench --postgres`): made on the server of an
//! administrator's URL, each with a name of its own, and dropped afterwards.

use anyhow::Context;

/// Connects to `url` for one statement or two, driving the connection on a task of its own.
async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (config, tls) = crate::tls::parse_database_url(url)
        .map_err(|err| anyhow::anyhow!("the database URL {err}"))?;
    let (client, connection) = config
        .connect(tls)
        .await
        .with_context(|| format!("connecting to {}", crate::redacted_url(url)))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let (server, rest) = url
        .rsplit_once('/')
        .filter(|(server, _)| server.contains("://"))
        .context("a postgres://.../database URL")?;
    let query = rest.split_once('?').map(|(_, q)| format!("?{q}"));
    Ok(format!("{server}/{database}{}", query.unwrap_or_default()))
}

/// Creates the database `name` (letters, digits and `_` only) on the server of `admin_url`;
/// its URL.
pub async fn create_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "a database name of letters, digits and underscores: {name:?}"
    );
    connect(admin_url)
        .await?
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .with_context(|| format!("creating database {name}"))?;
    with_database(admin_url, name)
}

/// Drops the database `name` made by [`create_database`], closing its connections.
pub async fn drop_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "a database name of letters, digits and underscores: {name:?}"
    );
    connect(admin_url)
        .await?
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .with_context(|| format!("dropping database {name}"))
}

/// The declarations the database at `url` holds.
pub async fn count_declarations(url: &str) -> anyhow::Result<u64> {
    let row = connect(url)
        .await?
        .query_one("SELECT count(*) FROM declarations", &[])
        .await?;
    Ok(u64::try_from(row.get::<_, i64>(0))?)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_of_a_url_is_replaced_and_its_parameters_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "bench_1").unwrap(),
            "postgres://postgres@127.0.0.1:5432/bench_1"
        );
        assert_eq!(
            with_database(
                "postgres://u@h1:5432,h2:5432/db?target_session_attrs=read-write",
                "b"
            )
            .unwrap(),
            "postgres://u@h1:5432,h2:5432/b?target_session_attrs=read-write"
        );
        assert!(with_database("host=db", "b").is_err());
    }
}
