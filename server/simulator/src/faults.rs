//! Fault injection: added latency, injected error statuses and dropped connections, so the
//! dashboard's retry and error handling can be exercised on demand.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use axum::response::Response;
use http::StatusCode;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Faults applied to the API routes (Partner Center and the admin API, never the sign-in).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Milliseconds added to every API call.
    pub latency_ms: u64,
    /// Status code → probability of answering with it, e.g. `{500: 0.2, 429: 0.1}`. An injected
    /// 429 carries `Retry-After` (`retry_after`, default 1) and the throttling body.
    pub error_rates: BTreeMap<u16, f64>,
    /// Probability that the connection drops after the response headers were sent.
    pub drop_rate: f64,
    /// When set, faults only apply to API paths containing this text.
    pub path_contains: Option<String>,
    /// `Retry-After` (seconds, fractions allowed, e.g. `0.35`) of injected 429 and 503 answers;
    /// unset: 429 says `1` and 503 says nothing. Up to an hour: the service asks for minutes
    /// when it throttles hard, and a client must not hold work that long.
    pub retry_after: Option<f64>,
    /// When set, only this many more errors are injected (each one counts it down), so a test
    /// can have exactly the next N matching calls fail and the following ones pass.
    pub max_faults: Option<u64>,
    /// When set, the token endpoint answers every grant with this refusal instead of tokens,
    /// as Entra does in an outage or when a grant or the app registration is refused: one of
    /// [`TOKEN_ERRORS`]. Independent of `path_contains`.
    pub token_error: Option<String>,
    /// Milliseconds added to every token endpoint call (a slow sign-in service).
    pub token_latency_ms: u64,
    /// The token endpoint breaks the connection while sending its answer (a network failure).
    pub token_drop: bool,
    /// The admin API leaves `@odata.count` out even when `$count=true` asks for it: its
    /// documentation does not promise the total, so a client must page to the end by next links.
    pub count_omitted: bool,
}

/// The refusals `token_error` can name: Entra's OAuth error codes, plus `consent_missing`
/// (`invalid_grant` with AADSTS65001).
pub const TOKEN_ERRORS: [&str; 6] = [
    "temporarily_unavailable",
    "server_error",
    "invalid_grant",
    "invalid_scope",
    "invalid_client",
    "consent_missing",
];

/// What the fault layer decided for one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FaultDecision {
    /// Serve the call normally.
    Pass,
    /// Answer with this status without running the handler.
    Error(StatusCode),
    /// Run the handler, then break the connection while sending the body.
    Drop,
}

impl FaultConfig {
    /// Checks the ranges; the error says what is wrong.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.latency_ms > 60_000 {
            return Err(format!(
                "latency_ms must be at most 60000, got {}",
                self.latency_ms
            ));
        }
        if self.token_latency_ms > 60_000 {
            return Err(format!(
                "token_latency_ms must be at most 60000, got {}",
                self.token_latency_ms
            ));
        }
        for (status, rate) in &self.error_rates {
            if !(400..=599).contains(status) {
                return Err(format!(
                    "error_rates keys must be HTTP statuses in 400..=599, got {status}"
                ));
            }
            if !rate.is_finite() || !(0.0..=1.0).contains(rate) {
                return Err(format!(
                    "error_rates[{status}] must be a probability in 0..=1, got {rate}"
                ));
            }
        }
        if let Some(error) = &self.token_error {
            if !TOKEN_ERRORS.contains(&error.as_str()) {
                return Err(format!(
                    "token_error must be one of {}, got '{error}'",
                    TOKEN_ERRORS.join(", ")
                ));
            }
        }
        if !self.drop_rate.is_finite() || !(0.0..=1.0).contains(&self.drop_rate) {
            return Err(format!(
                "drop_rate must be a probability in 0..=1, got {}",
                self.drop_rate
            ));
        }
        if let Some(secs) = self.retry_after {
            if !secs.is_finite() || secs <= 0.0 || secs > 3600.0 {
                return Err(format!(
                    "retry_after must be a number of seconds in (0, 3600], got {secs}"
                ));
            }
        }
        Ok(())
    }

    /// Whether faults apply to this request path.
    pub(crate) fn applies_to(&self, path: &str) -> bool {
        match &self.path_contains {
            Some(needle) if !needle.is_empty() => path.contains(needle.as_str()),
            _ => true,
        }
    }

    /// Rolls the dice for one call. `gen::<f64>()` is in `[0, 1)`, so a rate of 0 never fires
    /// and a rate of 1 always does. Errors are rolled in ascending status order.
    pub(crate) fn decide(&self, path: &str, rng: &mut impl Rng) -> FaultDecision {
        if !self.applies_to(path) || self.max_faults == Some(0) {
            return FaultDecision::Pass;
        }
        for (status, rate) in &self.error_rates {
            if rng.gen::<f64>() < *rate {
                if let Ok(status) = StatusCode::from_u16(*status) {
                    return FaultDecision::Error(status);
                }
            }
        }
        if rng.gen::<f64>() < self.drop_rate {
            return FaultDecision::Drop;
        }
        FaultDecision::Pass
    }
}

/// Sends the response's status and headers, half of its body, then fails the body stream so the
/// server aborts the connection and the client sees a connection error (as with a network drop
/// after the service already acted). The short pause lets the server flush what was sent so
/// far, as a real drop mid-body would show.
pub(crate) async fn drop_connection(response: Response) -> Response {
    use futures::StreamExt;

    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(http::header::CONTENT_LENGTH);
    let sent = futures::stream::iter([Ok::<Bytes, std::io::Error>(half)]);
    let failure = futures::stream::once(async {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated dropped connection",
        ))
    });
    Response::from_parts(parts, Body::from_stream(sent.chain(failure)))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn rates_zero_and_one_are_exact() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut config = FaultConfig::default();
        config.error_rates.insert(500, 0.0);
        for _ in 0..1000 {
            assert_eq!(config.decide("/x", &mut rng), FaultDecision::Pass);
        }
        config.error_rates.insert(503, 1.0);
        for _ in 0..1000 {
            assert_eq!(
                config.decide("/x", &mut rng),
                FaultDecision::Error(StatusCode::SERVICE_UNAVAILABLE)
            );
        }
        let drop = FaultConfig {
            drop_rate: 1.0,
            ..FaultConfig::default()
        };
        assert_eq!(drop.decide("/x", &mut rng), FaultDecision::Drop);
    }

    #[test]
    fn path_filter_limits_faults() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let config = FaultConfig {
            error_rates: BTreeMap::from([(500, 1.0)]),
            path_contains: Some("applicationconsents".into()),
            ..FaultConfig::default()
        };
        assert_eq!(
            config.decide("/customers/x/users", &mut rng),
            FaultDecision::Pass
        );
        assert_eq!(
            config.decide("/customers/x/applicationconsents", &mut rng),
            FaultDecision::Error(StatusCode::INTERNAL_SERVER_ERROR)
        );
    }

    #[test]
    fn validation_rejects_out_of_range_values() {
        let bad = [
            FaultConfig {
                drop_rate: 1.5,
                ..FaultConfig::default()
            },
            FaultConfig {
                error_rates: BTreeMap::from([(200, 0.5)]),
                ..FaultConfig::default()
            },
            FaultConfig {
                error_rates: BTreeMap::from([(500, f64::NAN)]),
                ..FaultConfig::default()
            },
            FaultConfig {
                token_error: Some("no_such_error".into()),
                ..FaultConfig::default()
            },
        ];
        for config in bad {
            assert!(config.validate().is_err(), "{config:?}");
        }
        assert!(FaultConfig::default().validate().is_ok());
    }

    #[test]
    fn json_round_trip_uses_field_names() {
        let json =
            r#"{"latency_ms":5,"error_rates":{"500":0.2},"drop_rate":0.1,"path_contains":"x"}"#;
        let config: FaultConfig = serde_json::from_str(json).unwrap();
        assert_eq!(config.error_rates.get(&500), Some(&0.2));
        let back = serde_json::to_value(&config).unwrap();
        assert_eq!(back["error_rates"]["500"], 0.2);
        assert!(serde_json::from_str::<FaultConfig>(r#"{"latency":5}"#).is_err());
    }
}
