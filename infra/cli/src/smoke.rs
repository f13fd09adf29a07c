//! `smartpit smoke`: the money path once, over HTTP, against any stack (the local one or a
//! deployed one): register -> lookup -> pay -> paid -> void -> cancel. It leaves nothing payable:
//! its one-yen bill ends cancelled. Each step's status and time are reported; the first
//! unexpected answer stops it.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub struct Smoke<'a> {
    pub api_url: &'a str,
    pub merchant_key: &'a str,
    /// A kiosk chain's key (the number is typed, as at a kiosk).
    pub chain_key: &'a str,
    /// An issued card number the merchant may bill.
    pub card: &'a str,
}

/// One step: its name, the status it got, how long it took.
pub struct Step {
    pub name: &'static str,
    pub status: u16,
    pub millis: u128,
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        smartpit_shared::ids::base32(&smartpit_shared::ids::random_bytes::<8>())
    )
}

impl Smoke<'_> {
    /// Runs every step; `Err` names the step that failed and what it got.
    pub async fn run(&self) -> Result<Vec<Step>, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| e.to_string())?;
        let mut steps = Vec::new();
        let base = self.api_url.trim_end_matches('/');
        let call = |name: &'static str,
                    method: reqwest::Method,
                    path: String,
                    key: &str,
                    body: Option<Value>,
                    want: u16| {
            let req = http
                .request(method, format!("{base}{path}"))
                .bearer_auth(key)
                .header("Idempotency-Key", unique("smoke"));
            let req = match body {
                Some(b) => req.json(&b),
                None => req,
            };
            let started = Instant::now();
            async move {
                let resp = req.send().await.map_err(|e| format!("{name}: {e}"))?;
                let status = resp.status().as_u16();
                let v: Value = resp.json().await.unwrap_or(Value::Null);
                if status != want {
                    return Err(format!("{name}: {status} (wanted {want}): {v}"));
                }
                Ok((
                    Step {
                        name,
                        status,
                        millis: started.elapsed().as_millis(),
                    },
                    v,
                ))
            }
        };
        let due = (smartpit_shared::clock::jst_date(chrono::Utc::now())
            + chrono::Duration::days(1))
        .to_string();
        let (s, invoice) = call(
            "register",
            reqwest::Method::POST,
            "/v1/invoices".into(),
            self.merchant_key,
            Some(json!({"merchant_order_id": unique("smoke"), "amount": 1,
                        "due_date": due, "smartpit_number": self.card,
                        "description": "smoke test"})),
            201,
        )
        .await?;
        steps.push(s);
        let id = invoice["id"].as_str().unwrap_or_default().to_string();
        let (s, look) = call(
            "lookup",
            reqwest::Method::POST,
            "/store/v1/lookup".into(),
            self.chain_key,
            Some(json!({"store_code": "SMOKE", "smartpit_number": self.card})),
            200,
        )
        .await?;
        steps.push(s);
        if !look["invoices"]
            .as_array()
            .is_some_and(|l| l.iter().any(|i| i["id"] == id.as_str()))
        {
            return Err(format!("lookup: {id} is not listed: {look}"));
        }
        let (s, payment) = call(
            "pay",
            reqwest::Method::POST,
            "/store/v1/payments".into(),
            self.chain_key,
            Some(
                json!({"store_code": "SMOKE", "store_transaction_id": unique("smoke"),
                        "invoice_ids": [id], "amount": 1}),
            ),
            201,
        )
        .await?;
        steps.push(s);
        let (s, paid) = call(
            "read paid",
            reqwest::Method::GET,
            format!("/v1/invoices/{id}"),
            self.merchant_key,
            None,
            200,
        )
        .await?;
        steps.push(s);
        if paid["status"] != "paid" {
            return Err(format!("read paid: the invoice is {}", paid["status"]));
        }
        let pid = payment["id"].as_str().unwrap_or_default();
        let (s, _) = call(
            "void",
            reqwest::Method::POST,
            format!("/store/v1/payments/{pid}/void"),
            self.chain_key,
            Some(json!({})),
            200,
        )
        .await?;
        steps.push(s);
        let (s, cancelled) = call(
            "cancel",
            reqwest::Method::POST,
            format!("/v1/invoices/{id}/cancel"),
            self.merchant_key,
            Some(json!({})),
            200,
        )
        .await?;
        steps.push(s);
        if cancelled["status"] != "cancelled" {
            return Err(format!("cancel: the invoice is {}", cancelled["status"]));
        }
        Ok(steps)
    }
}
