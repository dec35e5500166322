//! Token signing and verification: one ES256 key generated at start-up, published as a JWK,
//! used to sign id and access tokens and to verify access tokens presented to the APIs.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Claims of an access token (Entra v1-style resource token).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub nbf: u64,
    pub oid: String,
    pub tid: String,
    pub upn: String,
    pub name: String,
    pub scp: String,
    pub appid: String,
    pub amr: Vec<String>,
}

/// Claims of an id token (OIDC, Entra v2).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct IdClaims {
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub nbf: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub sub: String,
    pub oid: String,
    pub tid: String,
    pub name: String,
    pub preferred_username: String,
    pub ver: String,
    pub amr: Vec<String>,
    /// App roles of the dashboard's app registration assigned to the user.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// The signing key and its public JWK.
pub(crate) struct SigningKeys {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: serde_json::Value,
    /// Claims of access tokens whose signature was verified, by token. An ES256 verification
    /// costs about as much CPU as the rest of a simulated call, and a caller sends the same
    /// token thousands of times (a GDAP read: one call per relationship). Audience, issuer and
    /// lifetime are still checked on every call.
    verified: Mutex<HashMap<String, AccessClaims>>,
}

/// Verified tokens kept at most; the cache starts over when it is full.
const VERIFIED_TOKENS_KEPT: usize = 1024;

impl SigningKeys {
    /// A fresh P-256 key. ES256 rather than Entra's RS256 because RSA key generation takes
    /// seconds in a debug build, and start-up must stay fast; relying parties that verify via
    /// the JWKS (kid + alg) are unaffected.
    pub(crate) fn generate() -> Self {
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        #[allow(
            clippy::expect_used,
            reason = "encoding a freshly generated key cannot fail"
        )]
        let der = secret
            .to_pkcs8_der()
            .expect("PKCS#8 encoding of a P-256 key");
        let point = secret.public_key().to_encoded_point(false);
        let coordinate = |c: Option<&p256::FieldBytes>| {
            URL_SAFE_NO_PAD.encode(c.map(|b| b.as_slice()).unwrap_or_default())
        };
        let x = coordinate(point.x());
        let y = coordinate(point.y());
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(point.as_bytes())[..16]);
        let jwk = serde_json::json!({
            "kty": "EC",
            "use": "sig",
            "alg": "ES256",
            "kid": kid,
            "crv": "P-256",
            "x": x,
            "y": y,
        });
        #[allow(
            clippy::expect_used,
            reason = "the coordinates were just produced by p256"
        )]
        let decoding = DecodingKey::from_ec_components(&x, &y).expect("valid P-256 public key");
        Self {
            kid,
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            decoding,
            jwk,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// The public key as a JWK (for the JWKS document).
    pub(crate) fn jwk(&self) -> &serde_json::Value {
        &self.jwk
    }

    /// Signs any claims set with the key's `kid`.
    pub(crate) fn sign<T: Serialize>(&self, claims: &T) -> Result<String, String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| e.to_string())
    }

    /// Verifies an access token for `audience` at `now` (Unix seconds). The error is a
    /// human-readable reason for the 401 description.
    pub(crate) fn verify_access(
        &self,
        token: &str,
        issuer: &str,
        audience: &str,
        now: u64,
    ) -> Result<AccessClaims, String> {
        let cached = self.verified.lock().get(token).cloned();
        let claims = match cached {
            Some(claims) => claims,
            None => {
                let claims = self.verify_signature(token)?;
                let mut verified = self.verified.lock();
                if verified.len() >= VERIFIED_TOKENS_KEPT {
                    verified.clear();
                }
                verified.insert(token.to_owned(), claims.clone());
                claims
            }
        };
        if claims.iss != issuer {
            return Err(format!(
                "The access token issuer is not valid; expected '{issuer}'."
            ));
        }
        if claims.aud != audience {
            return Err(format!(
                "The access token audience '{}' is not valid for this API; expected '{audience}'.",
                claims.aud
            ));
        }
        if now >= claims.exp {
            return Err(format!(
                "The access token expired {} seconds ago.",
                now - claims.exp
            ));
        }
        if claims.nbf > now {
            return Err("The access token is not valid yet.".to_owned());
        }
        Ok(claims)
    }

    /// The claims of a token signed with this key. Everything else is checked by the caller,
    /// with precise messages and no leeway.
    fn verify_signature(&self, token: &str) -> Result<AccessClaims, String> {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.validate_aud = false;
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => {
                    "The access token signature is not valid (was it issued by this simulator \
                     since it last started?)."
                        .to_owned()
                }
                ErrorKind::InvalidAlgorithm => {
                    "The access token is not signed with ES256.".to_owned()
                }
                _ => format!("The access token is malformed ({e})."),
            })
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
mod tests {
    use super::*;

    fn claims(aud: &str, exp: u64) -> AccessClaims {
        AccessClaims {
            iss: "https://issuer".into(),
            aud: aud.into(),
            exp,
            iat: 100,
            nbf: 100,
            oid: "o".into(),
            tid: "t".into(),
            upn: "u".into(),
            name: "n".into(),
            scp: "user_impersonation".into(),
            appid: "a".into(),
            amr: vec!["pwd".into(), "mfa".into()],
        }
    }

    #[test]
    fn jwk_works_with_jsonwebtoken_from_jwk() {
        let keys = SigningKeys::generate();
        let token = keys.sign(&claims("aud", 200)).unwrap();
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(keys.jwk().clone()).unwrap();
        let key = DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.validate_exp = false;
        validation.set_audience(&["aud"]);
        let decoded = jsonwebtoken::decode::<AccessClaims>(&token, &key, &validation).unwrap();
        assert_eq!(decoded.claims.aud, "aud");
        assert_eq!(decoded.header.kid.as_deref(), keys.jwk()["kid"].as_str());
    }

    #[test]
    fn verification_checks_audience_expiry_issuer_and_signature() {
        let keys = SigningKeys::generate();
        let token = keys.sign(&claims("aud", 200)).unwrap();
        assert!(keys
            .verify_access(&token, "https://issuer", "aud", 150)
            .is_ok());
        let err = keys
            .verify_access(&token, "https://issuer", "other", 150)
            .unwrap_err();
        assert!(err.contains("audience"), "{err}");
        let err = keys
            .verify_access(&token, "https://issuer", "aud", 200)
            .unwrap_err();
        assert!(err.contains("expired"), "{err}");
        let err = keys
            .verify_access(&token, "https://x", "aud", 150)
            .unwrap_err();
        assert!(err.contains("issuer"), "{err}");
        let other = SigningKeys::generate();
        let err = other
            .verify_access(&token, "https://issuer", "aud", 150)
            .unwrap_err();
        assert!(err.contains("signature"), "{err}");
        assert!(keys
            .verify_access("garbage", "https://issuer", "aud", 150)
            .is_err());
    }
}
