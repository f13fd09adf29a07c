//! Who is calling: the API key says, never the body.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use lambda_http::Request;

use crate::db::Db;
use crate::http::bearer_token;
use crate::ids::sha256_hex;
use crate::problem::Problem;

pub use crate::principal::{ChainPrincipal, Merchant, Principal};

/// How long a warm function trusts a key it has looked up: a revoked or renamed key takes
/// effect within this time, and a warm store lookup costs one DynamoDB call, not two.
pub const KEY_CACHE_SECONDS: u64 = 60;
const KEY_CACHE_MAX: usize = 10_000;

type KeyCache = HashMap<String, (Principal, Instant)>;

fn cache() -> &'static Mutex<KeyCache> {
    static CACHE: OnceLock<Mutex<KeyCache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Forgets every cached key (a warm function otherwise trusts a key it has seen for
/// [`KEY_CACHE_SECONDS`]): for tests and tools that must see a revocation at once.
pub fn forget_cached_keys() {
    if let Ok(mut c) = cache().lock() {
        c.clear();
    }
}

async fn principal(db: &Db, req: &Request) -> Result<Principal, Problem> {
    let token = bearer_token(req).ok_or_else(Problem::unauthorized)?;
    if token.len() > 200 {
        return Err(Problem::unauthorized());
    }
    // A key of another environment is refused before any lookup: a test key never reaches
    // live data, nor a live key test data.
    let env = db.res.key_environment.as_str();
    let of_env = ["sk", "ck"].iter().any(|kind| {
        token
            .strip_prefix(kind)
            .and_then(|t| t.strip_prefix('_'))
            .and_then(|t| t.strip_prefix(env))
            .is_some_and(|t| t.starts_with('_'))
    });
    if env.is_empty() || !of_env {
        return Err(Problem::unauthorized().detail(format!(
            "This service takes {env} keys (sk_{env}_… for merchants, ck_{env}_… for store chains)."
        )));
    }
    // Keyed by the key's hash, so the secret itself is never kept in memory longer than needed.
    let hash = sha256_hex(token);
    let ttl = Duration::from_secs(KEY_CACHE_SECONDS);
    if let Ok(c) = cache().lock() {
        if let Some((p, at)) = c.get(&hash) {
            if at.elapsed() < ttl {
                return Ok(p.clone());
            }
        }
    }
    // Unknown keys are not cached: a new key works at once.
    let found = db
        .principal_for_key(token)
        .await?
        .ok_or_else(Problem::unauthorized)?;
    if let Ok(mut c) = cache().lock() {
        if c.len() >= KEY_CACHE_MAX {
            c.retain(|_, (_, at)| at.elapsed() < ttl);
            if c.len() >= KEY_CACHE_MAX {
                c.clear();
            }
        }
        c.insert(hash, (found.clone(), Instant::now()));
    }
    Ok(found)
}

/// The merchant whose key signed the request; a store chain's key is refused here.
pub async fn merchant(db: &Db, req: &Request) -> Result<Merchant, Problem> {
    match principal(db, req).await? {
        Principal::Merchant(m) => Ok(m),
        Principal::StoreChain(_) => Err(Problem::unauthorized()),
    }
}

/// The store chain whose key signed the request; a merchant's key is refused here.
pub async fn store_chain(db: &Db, req: &Request) -> Result<ChainPrincipal, Problem> {
    match principal(db, req).await? {
        Principal::StoreChain(c) => Ok(c),
        Principal::Merchant(_) => Err(Problem::unauthorized()),
    }
}
