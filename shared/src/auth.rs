//! Who is calling: the API key says, never the body.

use lambda_http::Request;

use crate::db::Db;
use crate::http::bearer_token;
use crate::problem::Problem;
use crate::store_chain::Channel;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainPrincipal {
    pub id: String,
    pub name_ja: String,
    pub channel: Channel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Merchant(Merchant),
    StoreChain(ChainPrincipal),
}

async fn principal(db: &Db, req: &Request) -> Result<Principal, Problem> {
    let token = bearer_token(req).ok_or_else(Problem::unauthorized)?;
    if token.len() > 200 {
        return Err(Problem::unauthorized());
    }
    db.principal_for_key(token)
        .await?
        .ok_or_else(Problem::unauthorized)
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
