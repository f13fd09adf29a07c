//! Onboarding: a merchant or a store chain gets an API key. The key is shown once and stored
//! only as its SHA-256 hash, so a lost key is replaced, never recovered.

use chrono::Utc;
use smartpit_shared::auth::Merchant;
use smartpit_shared::ids::new_secret;
use smartpit_shared::request::is_reference;
use smartpit_shared::store_chain::catalogue;
use smartpit_shared::Db;

/// Creates a merchant and returns a new API key for it. For a merchant that exists it refuses,
/// unless `add_key` asks for another key (for a rotation), and then the name must be the one
/// it has: this command never renames a merchant by accident.
pub async fn merchant_key(db: &Db, id: &str, name: &str, add_key: bool) -> Result<String, String> {
    if id.is_empty() || id.len() > 64 || !is_reference(id) || id.contains('#') {
        return Err("a merchant id is 1 to 64 letters, digits and . _ : / -".into());
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("a merchant name is 1 to 100 characters".into());
    }
    if let Some(c) = smartpit_shared::text::hidden_char(name) {
        return Err(format!(
            "a merchant name is shown to customers and stores: it must not contain {c}"
        ));
    }
    match (
        db.get_merchant(id).await.map_err(|p| p.to_string())?,
        add_key,
    ) {
        (Some(_), false) => {
            return Err(format!(
                "merchant {id} exists already: --add-key issues another key for it"
            ))
        }
        (Some(m), true) if m.name != name => {
            return Err(format!(
                "merchant {id} is named {:?}, not {name:?}: --add-key never renames",
                m.name
            ))
        }
        (None, true) => return Err(format!("there is no merchant {id} to add a key to")),
        _ => {}
    }
    let key = new_secret(&format!("sk_{}", environment(db)?));
    let merchant = Merchant {
        id: id.to_string(),
        name: name.to_string(),
    };
    db.put_merchant(&merchant, &key, Utc::now())
        .await
        .map_err(|p| p.to_string())?;
    Ok(key)
}

/// `test` or `live`: the environment of the stack the key is for.
pub fn environment(db: &Db) -> Result<&str, String> {
    match db.res.key_environment.as_str() {
        e @ ("test" | "live") => Ok(e),
        other => Err(format!(
            "say which key environment the stack takes (--key-environment test|live), not {other:?}"
        )),
    }
}

/// A new key for an existing merchant or chain; its other working keys stop after `grace`
/// seconds (0: at once). Returns the key and how many old keys were given an end.
pub async fn rotate(
    db: &Db,
    owner: &smartpit_shared::db::keys::KeyOwner,
    grace_seconds: i64,
) -> Result<(String, usize), String> {
    use smartpit_shared::db::keys::KeyOwner;
    let now = Utc::now();
    let key = match owner {
        KeyOwner::Merchant(id) => {
            let m = db
                .get_merchant(id)
                .await
                .map_err(|p| p.to_string())?
                .ok_or_else(|| format!("there is no merchant {id}"))?;
            merchant_key(db, id, &m.name, true).await?
        }
        KeyOwner::Chain(id) => chain_key(db, id).await?,
    };
    let ended = db
        .expire_keys(owner, &key, now.timestamp() + grace_seconds.max(0))
        .await
        .map_err(|p| p.to_string())?;
    Ok((key, ended))
}

/// Returns a new API key for a chain of the catalogue.
pub async fn chain_key(db: &Db, chain_id: &str) -> Result<String, String> {
    let chains = catalogue().map_err(|e| e.to_string())?;
    let chain = chains.iter().find(|c| c.id == chain_id).ok_or_else(|| {
        let ids: Vec<&str> = chains.iter().map(|c| c.id.as_str()).collect();
        format!(
            "unknown chain {chain_id}; the catalogue has {}",
            ids.join(", ")
        )
    })?;
    let key = new_secret(&format!("ck_{}", environment(db)?));
    db.put_store_chain(chain, &key, Utc::now())
        .await
        .map_err(|p| p.to_string())?;
    Ok(key)
}
