//! Repeated submissions. A double click or a resent form carries the same request twice within
//! moments; for a bulk job or a review decision that would act twice. The first submission
//! claims its key in the same transaction as its writes; an identical one within [`WINDOW`]
//! gets the first one's result and writes nothing. The key names who submitted what, so two
//! admins, or one admin asking for something else, are never merged.

use sha2::{Digest, Sha256};
use std::time::Duration;

/// How long an identical submission counts as a repeat.
pub const WINDOW: Duration = Duration::from_secs(10);

/// The key of a submission made of `parts` (the admin's identity first). Hashed: parts can be
/// long (a customer list) and hold names.
pub fn key(action: &str, parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in std::iter::once(action).chain(parts.iter().copied()) {
        hash.update(part.len().to_le_bytes());
        hash.update(part.as_bytes());
    }
    let digest: String = hash
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{action}:{digest}")
}

/// Claims `key` for `result` inside `tx` at `now_ms`: `None` when this is the first submission
/// within the window (the caller goes on and commits), else the earlier submission's result
/// (the caller writes nothing). On PostgreSQL a concurrent identical claim waits for this
/// transaction and then sees it.
pub async fn claim(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    key: &str,
    result: &str,
    now_ms: i64,
) -> Result<Option<String>, sqlx::Error> {
    let window = i64::try_from(WINDOW.as_millis()).unwrap_or(i64::MAX);
    let since = now_ms.saturating_sub(window);
    sqlx::query("DELETE FROM submissions WHERE at_ms < $1 AND submission_key <> $2")
        .bind(since)
        .bind(key)
        .execute(&mut **tx)
        .await?;
    let claimed = sqlx::query(
        "INSERT INTO submissions (submission_key, result, at_ms) VALUES ($1, $2, $3)
         ON CONFLICT (submission_key) DO UPDATE SET result = excluded.result, at_ms = excluded.at_ms
         WHERE submissions.at_ms < $4",
    )
    .bind(key)
    .bind(result)
    .bind(now_ms)
    .bind(since)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if claimed == 1 {
        return Ok(None);
    }
    sqlx::query_scalar("SELECT result FROM submissions WHERE submission_key = $1")
        .bind(key)
        .fetch_optional(&mut **tx)
        .await
}

/// Records `result` under `key` after all: the earlier submission turned out not to be the same
/// request (the state it acted on has changed since).
pub async fn take_over(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    key: &str,
    result: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE submissions SET result = $2, at_ms = $3 WHERE submission_key = $1")
        .bind(key)
        .bind(result)
        .bind(now_ms)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_action_and_by_every_part_and_keep_part_boundaries() {
        let a = key("start-job", &["tenant:alice", "grant-consent", "x"]);
        assert_eq!(a, key("start-job", &["tenant:alice", "grant-consent", "x"]));
        assert_ne!(a, key("start-job", &["tenant:bob", "grant-consent", "x"]));
        assert_ne!(a, key("decide", &["tenant:alice", "grant-consent", "x"]));
        assert_ne!(key("a", &["bc", "d"]), key("a", &["b", "cd"]));
        assert!(a.starts_with("start-job:"));
    }
}
