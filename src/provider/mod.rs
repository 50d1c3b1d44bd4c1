//! The daemon's view of the OpenID Connect provider: metadata, keys, token checks.

pub mod discovery;
pub mod http;
pub mod id_token;
pub mod jwks;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::clock::Clock;
use crate::config::ProviderConfig;
use discovery::{ProviderMetadata, discovery_url, parse_metadata};
use http::{ClientAuth, HttpError, JsonResponse, ProviderHttp};
use id_token::{Expectations, IdTokenError};
use jwks::{KeySet, parse_jwks};

/// How long fetched metadata is used before it is fetched again. A failed refresh
/// keeps the last good metadata.
const METADATA_MAX_AGE: Duration = Duration::from_secs(3600);

/// How long a failed discovery fetch is remembered when no good copy exists.
const FAILURE_MEMORY: Duration = Duration::from_secs(5);

/// Errors from talking to the provider, split by what they mean for the login.
#[derive(Debug)]
pub enum ProviderError {
    /// The provider could not be reached or returned an invalid response, so no verdict is possible.
    Unavailable(String),
    /// The provider's response was valid and rejects the login, or it fails a check.
    Rejected(String),
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProviderError::Unavailable(reason) | ProviderError::Rejected(reason) => write!(f, "{reason}"),
        }
    }
}

impl From<HttpError> for ProviderError {
    fn from(err: HttpError) -> Self {
        ProviderError::Unavailable(err.to_string())
    }
}

struct CachedMetadata {
    metadata: Arc<ProviderMetadata>,
    fetched_at: Instant,
}

#[derive(Default)]
struct MetadataState {
    cached: Option<CachedMetadata>,
    last_failure: Option<(Instant, String)>,
}

struct CachedKeys {
    keys: Arc<KeySet>,
    fetched_at: Option<Instant>,
}

pub struct Provider {
    config: ProviderConfig,
    http: ProviderHttp,
    clock: Arc<dyn Clock>,
    metadata_state: std::sync::Mutex<MetadataState>,
    /// Lock held while one caller fetches discovery, so the provider gets one request.
    metadata_fetch: Mutex<()>,
    keys: Mutex<CachedKeys>,
}

impl Provider {
    pub fn new(config: ProviderConfig, clock: Arc<dyn Clock>) -> Result<Self, String> {
        let http = ProviderHttp::new(Duration::from_secs(config.request_timeout_secs))?;
        Ok(Provider {
            config,
            http,
            clock,
            metadata_state: std::sync::Mutex::new(MetadataState::default()),
            metadata_fetch: Mutex::new(()),
            keys: Mutex::new(CachedKeys { keys: Arc::new(KeySet::default()), fetched_at: None }),
        })
    }

    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    pub fn http(&self) -> &ProviderHttp {
        &self.http
    }

    pub fn client_auth(&self) -> ClientAuth<'_> {
        ClientAuth { client_id: &self.config.client_id, client_secret: self.config.client_secret.as_deref() }
    }

    /// Returns the provider metadata, fetching it on first use.
    ///
    /// After [`METADATA_MAX_AGE`] one caller refreshes it while the others keep using the
    /// stale copy, and a failed refresh keeps the last good one. Without any copy, a
    /// failure is remembered for [`FAILURE_MEMORY`] so that logins queued behind a hung
    /// provider fail at once instead of fetching one after another.
    pub async fn metadata(&self) -> Result<Arc<ProviderMetadata>, ProviderError> {
        let now = self.clock.now();
        {
            let state = self.metadata_state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(entry) = &state.cached {
                let fresh = now.duration_since(entry.fetched_at) < METADATA_MAX_AGE;
                if fresh {
                    return Ok(entry.metadata.clone());
                }
            } else if let Some((failed_at, reason)) = &state.last_failure {
                if now.duration_since(*failed_at) < FAILURE_MEMORY {
                    return Err(ProviderError::Unavailable(reason.clone()));
                }
            }
        }

        // A stale copy is served while another caller refreshes it.
        let fetch_guard = match self.metadata_fetch.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                if let Some(stale) = self.cached_metadata() {
                    return Ok(stale);
                }
                let guard = self.metadata_fetch.lock().await;
                let state = self.metadata_state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if let Some(entry) = &state.cached {
                    return Ok(entry.metadata.clone());
                }
                if let Some((_, reason)) = &state.last_failure {
                    return Err(ProviderError::Unavailable(reason.clone()));
                }
                drop(state);
                guard
            }
        };

        let result = self.fetch_metadata().await;
        let mut state = self.metadata_state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let outcome = match result {
            Ok(metadata) => {
                let metadata = Arc::new(metadata);
                state.cached = Some(CachedMetadata { metadata: metadata.clone(), fetched_at: self.clock.now() });
                state.last_failure = None;
                Ok(metadata)
            }
            Err(err) => {
                state.last_failure = Some((self.clock.now(), err.to_string()));
                match &state.cached {
                    Some(entry) => Ok(entry.metadata.clone()),
                    None => Err(err),
                }
            }
        };
        drop(fetch_guard);
        outcome
    }

    /// Returns the last good metadata without fetching; `None` until discovery succeeded.
    pub fn cached_metadata(&self) -> Option<Arc<ProviderMetadata>> {
        let state = self.metadata_state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.cached.as_ref().map(|entry| entry.metadata.clone())
    }

    async fn fetch_metadata(&self) -> Result<ProviderMetadata, ProviderError> {
        let url = discovery_url(&self.config.issuer);
        let response = self.http.get_json(&url, None).await?;
        if !response.status.is_success() {
            return Err(ProviderError::Unavailable(format!("discovery at {url} returned HTTP {}", response.status.as_u16())));
        }
        parse_metadata(&response.body, &self.config.issuer, &self.config.endpoints).map_err(ProviderError::Unavailable)
    }

    /// Returns the algorithms accepted in ID-token headers: the admin's list, else the
    /// provider's asymmetric ones, else RS256 (the default of OpenID Connect Core).
    fn allowed_algs(&self, metadata: &ProviderMetadata) -> Vec<String> {
        if let Some(algs) = &self.config.id_token_algs {
            return algs.clone();
        }
        let advertised: Vec<String> = metadata
            .id_token_signing_alg_values_supported
            .iter()
            .filter(|alg| !alg.eq_ignore_ascii_case("none") && !alg.starts_with("HS"))
            .cloned()
            .collect();
        if advertised.is_empty() { vec!["RS256".into()] } else { advertised }
    }

    /// Verifies an ID token and returns its claims.
    ///
    /// On an unknown kid the JWKS is fetched again, at most once per
    /// `jwks_refetch_min_secs`, so a key rotation needs no restart.
    pub async fn verify_id_token(&self, token: &str, nonce: Option<&str>) -> Result<Map<String, Value>, ProviderError> {
        let metadata = self.metadata().await?;
        let allowed_algs = self.allowed_algs(&metadata);
        let expect = Expectations {
            issuer: &self.config.issuer,
            client_id: &self.config.client_id,
            allowed_algs: &allowed_algs,
            client_secret: self.client_auth().client_secret,
            leeway_secs: self.config.clock_leeway_secs,
            now: self.clock.unix_now(),
            nonce,
        };

        let decoded = id_token::decode(token).map_err(|err| ProviderError::Rejected(err.to_string()))?;

        let keys = self.keys(&metadata, false).await?;
        let mut result = id_token::verify_signature(&decoded, &keys.keys, &expect);
        if matches!(result, Err(IdTokenError::NoMatchingKey { .. })) {
            let refreshed = self.keys(&metadata, true).await?;
            result = id_token::verify_signature(&decoded, &refreshed.keys, &expect);
        }
        result.map_err(|err| ProviderError::Rejected(err.to_string()))?;

        id_token::validate_claims(&decoded.claims, &expect).map_err(|err| ProviderError::Rejected(err.to_string()))?;
        Ok(decoded.claims)
    }

    /// Returns the cached keys, fetching them when none are cached or when `refetch` is
    /// set and the last fetch is older than the rate limit.
    async fn keys(&self, metadata: &ProviderMetadata, refetch: bool) -> Result<Arc<KeySet>, ProviderError> {
        let mut cached = self.keys.lock().await;
        let now = self.clock.now();
        let min_age = Duration::from_secs(self.config.jwks_refetch_min_secs);

        let due = match cached.fetched_at {
            None => true,
            Some(at) => refetch && now.duration_since(at) >= min_age,
        };
        if !due {
            return Ok(cached.keys.clone());
        }

        match self.fetch_keys(&metadata.jwks_uri).await {
            Ok(set) => {
                *cached = CachedKeys { keys: Arc::new(set), fetched_at: Some(now) };
                Ok(cached.keys.clone())
            }
            // A failed refetch keeps the last good keys.
            Err(_) if cached.fetched_at.is_some() => Ok(cached.keys.clone()),
            Err(err) => Err(err),
        }
    }

    async fn fetch_keys(&self, jwks_uri: &str) -> Result<KeySet, ProviderError> {
        let response: JsonResponse = self.http.get_json(jwks_uri, None).await?;
        if !response.status.is_success() {
            return Err(ProviderError::Unavailable(format!("JWKS at {jwks_uri} returned HTTP {}", response.status.as_u16())));
        }
        parse_jwks(&response.body).map_err(ProviderError::Unavailable)
    }

    /// Fetches the UserInfo response (OpenID Connect Core section 5.3) and checks that its
    /// `sub` equals the ID token's.
    pub async fn userinfo(&self, access_token: &str, id_token_sub: &str) -> Result<Map<String, Value>, ProviderError> {
        let metadata = self.metadata().await?;
        let Some(url) = &metadata.userinfo_endpoint else {
            return Err(ProviderError::Unavailable("the provider has no userinfo_endpoint".into()));
        };
        let response = self.http.get_json(url, Some(access_token)).await?;
        if !response.status.is_success() {
            return Err(ProviderError::Unavailable(format!("userinfo at {url} returned HTTP {}", response.status.as_u16())));
        }
        match response.body.get("sub") {
            Some(Value::String(sub)) if sub == id_token_sub => Ok(response.body),
            _ => Err(ProviderError::Rejected(format!("userinfo sub does not match the ID token sub {id_token_sub:?}"))),
        }
    }
}
