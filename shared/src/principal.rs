//! Who may call: a merchant, or a store chain (with how its stores take payments). The
//! principal an API key stands for; `auth` finds it for a request.

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
