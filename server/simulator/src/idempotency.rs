//! Idempotent writes keyed by `MS-RequestId`: the first call with a request id is applied and
//! its response stored; later calls with the same id get the stored response and change nothing.

use std::collections::{HashMap, VecDeque};

use axum::response::{IntoResponse, Response};
use axum::Json;
use http::StatusCode;
use serde::Serialize;

/// How many request ids are remembered; the oldest are forgotten first.
const CAPACITY: usize = 100_000;

/// A successful write's response, replayed on retries.
#[derive(Clone, Debug)]
pub(crate) struct StoredResponse {
    pub status: StatusCode,
    pub body: Option<serde_json::Value>,
}

impl IntoResponse for StoredResponse {
    fn into_response(self) -> Response {
        match self.body {
            Some(body) => (self.status, Json(body)).into_response(),
            None => self.status.into_response(),
        }
    }
}

/// What is known about one request id (exposed in `/_sim/state`).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct WriteRecord {
    /// Calls that reached the simulator with this id, including ones answered by faults.
    pub received: u64,
    /// Calls that changed state (at most one).
    pub applied: u64,
    pub method: String,
    pub path: String,
    #[serde(skip)]
    pub response: Option<StoredResponse>,
}

/// Outcome of looking a request id up before a write.
pub(crate) enum Replay {
    /// Not applied yet: go ahead.
    Fresh,
    /// Already applied: answer with this.
    Stored(StoredResponse),
    /// The id was used for a different operation.
    Mismatch { method: String, path: String },
}

#[derive(Default)]
pub(crate) struct WriteLog {
    records: HashMap<String, WriteRecord>,
    order: VecDeque<String>,
}

impl WriteLog {
    fn entry(&mut self, request_id: &str, method: &str, path: &str) -> &mut WriteRecord {
        if !self.records.contains_key(request_id) {
            if self.order.len() >= CAPACITY {
                if let Some(oldest) = self.order.pop_front() {
                    self.records.remove(&oldest);
                }
            }
            self.order.push_back(request_id.to_owned());
        }
        self.records
            .entry(request_id.to_owned())
            .or_insert_with(|| WriteRecord {
                received: 0,
                applied: 0,
                method: method.to_owned(),
                path: path.to_owned(),
                response: None,
            })
    }

    /// Counts a write request as it arrives (before faults and authentication).
    pub(crate) fn receive(&mut self, request_id: &str, method: &str, path: &str) {
        self.entry(request_id, method, path).received += 1;
    }

    pub(crate) fn replay(&self, request_id: &str, method: &str, path: &str) -> Replay {
        match self.records.get(request_id) {
            Some(WriteRecord {
                response: Some(stored),
                method: m,
                path: p,
                ..
            }) => {
                if m == method && p == path {
                    Replay::Stored(stored.clone())
                } else {
                    Replay::Mismatch {
                        method: m.clone(),
                        path: p.clone(),
                    }
                }
            }
            _ => Replay::Fresh,
        }
    }

    /// Records that the write was applied and what it answered.
    pub(crate) fn applied(
        &mut self,
        request_id: &str,
        method: &str,
        path: &str,
        response: StoredResponse,
    ) {
        let record = self.entry(request_id, method, path);
        record.applied += 1;
        record.response = Some(response);
    }

    pub(crate) fn records(&self) -> &HashMap<String, WriteRecord> {
        &self.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_only_applied_writes_of_the_same_operation() {
        let mut log = WriteLog::default();
        log.receive("r1", "POST", "/a");
        assert!(matches!(log.replay("r1", "POST", "/a"), Replay::Fresh));
        log.applied(
            "r1",
            "POST",
            "/a",
            StoredResponse {
                status: StatusCode::CREATED,
                body: None,
            },
        );
        log.receive("r1", "POST", "/a");
        assert!(matches!(
            log.replay("r1", "POST", "/a"),
            Replay::Stored(StoredResponse {
                status: StatusCode::CREATED,
                ..
            })
        ));
        assert!(matches!(
            log.replay("r1", "DELETE", "/a"),
            Replay::Mismatch { .. }
        ));
        let record = &log.records()["r1"];
        assert_eq!((record.received, record.applied), (2, 1));
    }
}
