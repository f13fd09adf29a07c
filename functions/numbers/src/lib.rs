//! Number issuance for merchants: joint cards (ジョイントカード) under their own design.
//!
//! Routes (see infra/template.yaml): `POST /v1/joint-cards` `{"count", "customer_refs"?}`,
//! `GET /v1/joint-cards/{number}` (the merchant's own card with its reference).
//! An `Idempotency-Key` header is optional; with it a retry returns the same numbers.
//! Generic cards are issued in batches by the operator command (`smartpit issue-cards`).

use chrono::{DateTime, Utc};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use smartpit_shared::config::Resources;
use smartpit_shared::contract::Reference;
use smartpit_shared::db::LEASE_SECONDS;
use smartpit_shared::http::{self as web};
use smartpit_shared::idempotent::{Keyed, OnFailure};
use smartpit_shared::ids::{base32, random_bytes};
use smartpit_shared::issuance::{issue_seeded, SeededBatch, Template};
use smartpit_shared::request::{self, Checked, Report, Whole};
use smartpit_shared::routes::Routes;
use smartpit_shared::Code;
use smartpit_shared::{auth, Db, NumberKind, Problem, SmartPitNumber};
use std::sync::OnceLock;

/// Most joint cards one request issues; larger pools come in several requests.
pub const MAX_JOINT_CARDS_PER_REQUEST: usize = 1000;

/// What each of the function's routes does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    IssueJointCards,
    GetJointCard,
}

/// The function's routes, as infra/template.yaml routes them here (a test holds the two equal).
pub fn routes() -> &'static Routes<Route> {
    static ROUTES: OnceLock<Routes<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        Routes::new()
            .add(Method::POST, "/v1/joint-cards", Route::IssueJointCards)
            .add(Method::GET, "/v1/joint-cards/{number}", Route::GetJointCard)
    })
}

pub struct NumbersFunction {
    db: Db,
}

impl NumbersFunction {
    pub fn new(sdk: &aws_config::SdkConfig, res: Resources) -> Self {
        NumbersFunction {
            db: Db::new(sdk, res),
        }
    }

    pub async fn handle(&self, req: Request) -> Response<Body> {
        web::respond(self.route(req, Utc::now()).await)
    }

    async fn route(&self, req: Request, now: DateTime<Utc>) -> Result<Response<Body>, Problem> {
        let found = routes()
            .find(req.method(), req.uri().path())
            .map_err(|miss| miss.problem())?;
        match found.route {
            Route::IssueJointCards => self.joint_cards(&req, now).await,
            Route::GetJointCard => self.joint_card(&req, found.param("number")).await,
        }
    }

    /// One of the merchant's joint cards with its reference. Another merchant's card, or a
    /// number that is not a joint card, is 404: a reference is the issuing merchant's data.
    async fn joint_card(&self, req: &Request, number: &str) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let not_found = || Problem::of(Code::JointCardNotFound);
        let number = SmartPitNumber::parse(number).map_err(|_| not_found())?;
        let rec = self
            .db
            .get_number(number)
            .await?
            .filter(|r| {
                r.kind == NumberKind::JointCard
                    && r.merchant_id.as_deref() == Some(merchant.id.as_str())
            })
            .ok_or_else(not_found)?;
        Ok(web::json(
            StatusCode::OK,
            &JointCardView {
                smartpit_number: rec.number.to_string(),
                display: rec.number.grouped(),
                kind: "joint_card",
                customer_ref: rec.customer_ref,
                batch_id: rec.batch_id,
                created_at: rec.created_at,
            },
        ))
    }

    async fn joint_cards(
        &self,
        req: &Request,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let merchant = auth::merchant(&self.db, req).await?;
        let keyed = Keyed::optional(req)?;
        let refs = request::json::<IssueJointCards>(req, now)?.refs();
        let merchant_id = merchant.id.as_str();
        match keyed {
            // Under a key the numbers follow from the claim's seed, which a retry finds again:
            // any sequence of retries writes one set. A batch that failed part way keeps its
            // claim (some numbers may be stored): the retry takes it over when its lease runs
            // out and completes the same batch.
            Some(keyed) => {
                keyed
                    .run(
                        &self.db,
                        merchant_id,
                        now,
                        OnFailure::Keep,
                        |lock| async move {
                            let (answer, body) =
                                self.issue(merchant_id, &lock.seed, refs, true, now).await?;
                            // A retry that took the claim over stores the same body: either is the
                            // answer.
                            self.db
                                .finish_idempotency_key(&lock, StatusCode::CREATED.as_u16(), &body)
                                .await?;
                            Ok(answer)
                        },
                    )
                    .await
            }
            // Without a key every request is a new batch.
            None => {
                let seed = base32(&random_bytes::<20>());
                Ok(self.issue(merchant_id, &seed, refs, false, now).await?.0)
            }
        }
    }

    /// Issues the batch `seed` names, one card per reference: the answer and its body.
    async fn issue(
        &self,
        merchant_id: &str,
        seed: &str,
        refs: Vec<Option<String>>,
        keyed: bool,
        now: DateTime<Utc>,
    ) -> Result<(Response<Body>, String), Problem> {
        let template = Template {
            kind: NumberKind::JointCard,
            merchant_id: Some(merchant_id.to_string()),
            expires_at: None,
        };
        let batch = SeededBatch::new(seed);
        let issued = issue_seeded(&self.db, &template, &batch, refs, now)
            .await
            .map_err(|p| partially_issued(p, keyed))?;
        let cards: Vec<IssuedCard> = issued
            .iter()
            .map(|r| IssuedCard {
                smartpit_number: r.number.to_string(),
                display: r.number.grouped(),
                customer_ref: r.customer_ref.clone(),
            })
            .collect();
        let answer = JointCardBatch {
            kind: "joint_card",
            batch_id: batch.batch_id.to_string(),
            count: cards.len(),
            cards,
        };
        let body = serde_json::to_string(&answer).map_err(|e| Problem::internal(&e))?;
        tracing::info!(merchant_id = %merchant_id, batch_id = %batch.batch_id, count = issued.len(), "joint cards issued");
        Ok((web::raw_json(StatusCode::CREATED, body.clone()), body))
    }
}

/// A batch that failed part way: say what stands, never "nothing was changed".
fn partially_issued(cause: Problem, keyed: bool) -> Problem {
    let retry = if keyed {
        format!(
            "Some numbers may have been issued. Retry with the same Idempotency-Key (after {} \
             seconds at most) to complete this batch: the retry issues the same numbers, never \
             a second set.",
            LEASE_SECONDS
        )
    } else {
        "Some numbers may have been issued. Without an Idempotency-Key a retry issues a new \
         batch; send one to make retries safe."
            .to_string()
    };
    Problem::of(Code::JointCardsIncomplete)
        .detail(retry)
        .cause(cause.code.as_str())
}

/// One of the merchant's joint cards (`GET /v1/joint-cards/{number}`).
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "JointCard", extend("additionalProperties" = false))]
pub struct JointCardView {
    #[schemars(with = "smartpit_shared::contract::SmartPitNumber")]
    pub smartpit_number: String,
    /// as printed: `2010 0000 00014`
    pub display: String,
    #[schemars(extend("const" = "joint_card"))]
    pub kind: &'static str,
    pub customer_ref: Option<String>,
    pub batch_id: Option<String>,
    pub created_at: String,
}

/// A batch of joint cards just issued (`POST /v1/joint-cards`).
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "JointCardBatch", extend("additionalProperties" = false))]
pub struct JointCardBatch {
    #[schemars(extend("const" = "joint_card"))]
    pub kind: &'static str,
    pub batch_id: String,
    #[schemars(range(min = 1, max = 1000))]
    pub count: usize,
    pub cards: Vec<IssuedCard>,
}

/// One card of a batch.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(inline, extend("additionalProperties" = false))]
pub struct IssuedCard {
    #[schemars(with = "smartpit_shared::contract::SmartPitNumber")]
    pub smartpit_number: String,
    pub display: String,
    pub customer_ref: Option<String>,
}

/// `POST /v1/joint-cards`: `count` (1 to 1000) and optional `customer_refs`, one per card.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "JointCardsRequest")]
pub struct IssueJointCards {
    #[schemars(required, with = "Whole", range(min = 1, max = 1000))]
    pub count: Option<Whole>,
    /// one reference per card (as many as `count`)
    #[schemars(with = "Option<Vec<Reference>>")]
    pub customer_refs: Option<Vec<String>>,
}

impl Checked for IssueJointCards {
    fn code_of(field: &str) -> Code {
        match field {
            "count" => Code::InvalidCount,
            _ => Code::InvalidCustomerRef,
        }
    }

    fn check(&self, _: DateTime<Utc>, r: &mut Report) {
        let count = self
            .count
            .map(|n| n.0)
            .filter(|n| (1..=MAX_JOINT_CARDS_PER_REQUEST as i64).contains(n));
        if count.is_none() {
            r.push(
                "count",
                Code::InvalidCount,
                format!("must be an integer from 1 to {MAX_JOINT_CARDS_PER_REQUEST}"),
            );
        }
        let Some(refs) = &self.customer_refs else {
            return;
        };
        if count.is_some_and(|n| refs.len() as i64 != n) {
            r.push(
                "customer_refs",
                Code::InvalidCustomerRef,
                "must be a list with one reference per card (as many as count)",
            );
            return;
        }
        for (i, s) in refs.iter().enumerate() {
            r.reference(
                &format!("customer_refs[{i}]"),
                Code::InvalidCustomerRef,
                Some(s),
                64,
            );
        }
    }
}

impl IssueJointCards {
    /// Each card's reference, in order (none without `customer_refs`).
    fn refs(self) -> Vec<Option<String>> {
        let count = usize::try_from(self.count.map_or(0, |n| n.0)).unwrap_or(0);
        match self.customer_refs {
            Some(refs) => refs.into_iter().map(Some).collect(),
            None => vec![None; count],
        }
    }
}

/// What its `main` runs ([`smartpit_shared::lambda::http`]) and the local stack builds.
impl smartpit_shared::lambda::HttpFunction for NumbersFunction {
    fn configured(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        _vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        Ok(NumbersFunction::new(sdk, res))
    }

    fn serve(&self, req: Request) -> impl std::future::Future<Output = Response<Body>> + Send {
        self.handle(req)
    }
}

#[cfg(test)]
mod api_gateway_events {
    use super::*;
    use smartpit_shared::lambda::answer_offline;

    /// API Gateway's own event shape, read by lambda_http, routed, answered without AWS.
    #[tokio::test]
    async fn a_joint_card_read_without_a_key_is_refused_before_any_call() {
        let (status, body) = answer_offline::<NumbersFunction>(
            include_str!("../fixtures/apigw-v2-get-joint-card.json"),
            &Default::default(),
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("\"unauthorized\""), "{body}");
    }
}
