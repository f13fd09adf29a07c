//! A merchant's webhook receiver on loopback, for the tests that follow events to the merchant:
//! it records every delivery, answers as a test plans, and `verify` checks a delivery's
//! signature with an independent Standard Webhooks implementation (the `standardwebhooks`
//! crate). `shop` makes a merchant of the test's own with its endpoint at a fresh receiver.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{json, Value};
use smartpit_shared::auth::Merchant;
use smartpit_shared::ids::new_secret;

use crate::{unique, TestStack};

/// What the receiver does with the next call.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    Status(u16),
    /// Sleeps this long, then answers 200.
    Sleep(u64),
}

#[derive(Clone, Debug)]
pub struct Delivery {
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Delivery {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Delivery>>>,
    pub plan: Arc<Mutex<VecDeque<Answer>>>,
    pub default: Arc<Mutex<Answer>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}/hooks/smartpit",
            listener.local_addr().expect("addr")
        );
        let r = Receiver {
            url,
            got: Arc::default(),
            plan: Arc::default(),
            default: Arc::new(Mutex::new(Answer::Status(200))),
        };
        let me = r.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let me = me.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let me = me.clone();
                            async move {
                                let headers = req.headers().clone();
                                let body = req
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes().to_vec())
                                    .unwrap_or_default();
                                me.got.lock().expect("lock").push(Delivery {
                                    headers,
                                    body,
                                    at: Instant::now(),
                                });
                                let answer = me
                                    .plan
                                    .lock()
                                    .expect("lock")
                                    .pop_front()
                                    .unwrap_or(*me.default.lock().expect("lock"));
                                let status = match answer {
                                    Answer::Status(s) => s,
                                    Answer::Sleep(secs) => {
                                        tokio::time::sleep(Duration::from_secs(secs)).await;
                                        200
                                    }
                                };
                                let mut resp = hyper::Response::new(Full::new(Bytes::from(
                                    format!("{{\"answered\":{status}}}"),
                                )));
                                *resp.status_mut() = hyper::StatusCode::from_u16(status)
                                    .unwrap_or(hyper::StatusCode::OK);
                                Ok::<_, std::convert::Infallible>(resp)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        r
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().expect("lock").clone()
    }

    /// Waits up to `secs` for at least `n` deliveries.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Delivery> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.deliveries();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Verifies a delivery with the independent implementation; panics otherwise.
pub fn verify(secret: &str, d: &Delivery) {
    let wh = standardwebhooks::Webhook::new(secret).expect("secret");
    wh.verify(&d.body, &d.headers)
        .unwrap_or_else(|e| panic!("signature does not verify: {e:?} {:?}", d.headers));
}

/// A merchant of the test's own, with its endpoint at a fresh receiver.
pub struct Shop {
    pub key: String,
    pub id: String,
    pub secret: String,
    pub receiver: Receiver,
}

pub async fn shop(s: &TestStack) -> Shop {
    let id = unique("shop");
    let key = new_secret("sk_test");
    s.db()
        .put_merchant(
            &Merchant {
                id: id.clone(),
                name: "ウェブフック商店".into(),
            },
            &key,
            Utc::now(),
        )
        .await
        .expect("merchant");
    let receiver = Receiver::start().await;
    let c = s.client();
    let r = c
        .send(
            c.http
                .put(format!("{}/v1/webhook-endpoint", s.api))
                .bearer_auth(&key)
                .json(&json!({"url": receiver.url})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let secret = r.body["secret"].as_str().expect("secret").to_string();
    assert!(secret.starts_with("whsec_"));
    Shop {
        key,
        id,
        secret,
        receiver,
    }
}
