//! Store chains are data: which chains exist, their names and how they take a number.
//! The catalogue ships as `store_chains.json` and is seeded into DynamoDB; the chain a request
//! comes from travels with its API key.

use serde::{Deserialize, Serialize};

/// How a chain's stores find a bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The customer types the number at a kiosk (and the store may also scan).
    Kiosk,
    /// The register scans a card's or printed sheet's barcode; typed numbers are not taken.
    Register,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Kiosk => "kiosk",
            Channel::Register => "register",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "kiosk" => Some(Channel::Kiosk),
            "register" => Some(Channel::Register),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreChain {
    pub id: String,
    pub name_ja: String,
    pub name_en: String,
    pub channel: Channel,
    /// What the customer does there, in Japanese, for sheets and mail.
    pub how_to_pay_ja: String,
}

/// The catalogue shipped with the service.
pub const CATALOGUE_JSON: &str = include_str!("store_chains.json");

pub fn catalogue() -> Result<Vec<StoreChain>, serde_json::Error> {
    serde_json::from_str(CATALOGUE_JSON)
}

/// Step-by-step instructions per chain for the payment page, bilingual, versioned data
/// (`how_to_pay.json`): change its `version` when the steps change; every chain of
/// `store_chains.json` must be there in both languages, one English step per Japanese (tested).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HowToPay {
    pub version: String,
    pub chains: std::collections::BTreeMap<String, Steps>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Steps {
    pub ja: Vec<String>,
    pub en: Vec<String>,
}

pub const HOW_TO_PAY_JSON: &str = include_str!("how_to_pay.json");

pub fn how_to_pay() -> Result<HowToPay, serde_json::Error> {
    serde_json::from_str(HOW_TO_PAY_JSON)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chain_has_its_steps_in_both_languages_and_no_other_chain_does() {
        let how = how_to_pay().unwrap();
        assert!(chrono::NaiveDate::parse_from_str(&how.version, "%Y-%m-%d").is_ok());
        let chains: Vec<String> = catalogue().unwrap().into_iter().map(|c| c.id).collect();
        let mut listed: Vec<String> = how.chains.keys().cloned().collect();
        let mut expected = chains.clone();
        listed.sort();
        expected.sort();
        assert_eq!(listed, expected);
        for (id, steps) in &how.chains {
            assert!(!steps.ja.is_empty(), "{id}");
            assert_eq!(
                steps.ja.len(),
                steps.en.len(),
                "{id}: one English step per Japanese"
            );
            assert!(steps
                .ja
                .iter()
                .chain(&steps.en)
                .all(|s| !s.trim().is_empty()));
        }
    }

    #[test]
    fn catalogue_has_the_six_seed_chains() {
        let chains = catalogue().unwrap();
        let kiosk: Vec<_> = chains
            .iter()
            .filter(|c| c.channel == Channel::Kiosk)
            .map(|c| c.id.as_str())
            .collect();
        let register: Vec<_> = chains
            .iter()
            .filter(|c| c.channel == Channel::Register)
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(kiosk, ["lawson", "familymart", "ministop"]);
        assert_eq!(register, ["three-f", "circle-k", "sunkus"]);
        assert!(chains.iter().all(|c| !c.name_ja.is_empty()));
    }
}
