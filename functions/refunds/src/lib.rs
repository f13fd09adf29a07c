//! The customer's side of a refund (issue 20). `GET /r/{token}` (the refund's `details_url`)
//! shows what is refunded, by whom, and a form for the account to pay it to; `POST /r/{token}`
//! checks every field against the Zengin list and a transfer record's characters (the form
//! again with each field's message, nothing stored) and seals the details with a KMS data key
//! before they are stored; the confirmation shows the bank and branch names back and the
//! expected transfer date. A page given its details, cancelled or paid says so (410); unknown
//! tokens count as guesses, refused past the limit like number guessing.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use smartpit_shared::config::Resources;
use smartpit_shared::payout::MaskedAccountView;
use smartpit_shared::refund::{expected_transfer, Refund, RefundStatus};
use smartpit_shared::routes::Routes;
use smartpit_shared::webhook::{Event, EventType};
use smartpit_shared::zengin::{self, AccountForm, CheckedAccount};
use smartpit_shared::{Db, Problem};
use smartpit_sheets::page::{self as frame, Lang};

pub mod page;
pub mod sandbox;
use page::View;

/// What each of the function's routes does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Page,
    Details,
}

/// The function's routes, as infra/template.yaml routes them here (a test holds the two equal).
pub fn routes() -> &'static Routes<Route> {
    static ROUTES: OnceLock<Routes<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        Routes::new()
            .add(Method::GET, "/r/{token}", Route::Page)
            .add(Method::POST, "/r/{token}", Route::Details)
    })
}

/// The largest form body read (five short fields).
const FORM_BYTES: usize = 4 * 1024;

pub struct RefundPage {
    db: Db,
    /// Built when details first arrive: a page view never needs it (start-up, issue 12).
    kms: smartpit_shared::config::OnFirstUse<aws_sdk_kms::Client>,
    /// The key the details are sealed under (`BANK_DATA_KEY`).
    key_id: String,
    /// Unknown tokens a client address may try in a minute.
    misses_per_minute: i64,
}

impl RefundPage {
    pub fn new(sdk: &aws_config::SdkConfig, res: Resources, key_id: &str) -> Self {
        RefundPage {
            db: Db::new(sdk, res),
            kms: {
                let sdk = sdk.clone();
                smartpit_shared::config::OnFirstUse::new(move || aws_sdk_kms::Client::new(&sdk))
            },
            key_id: key_id.to_string(),
            misses_per_minute: smartpit_shared::guessing::DEFAULT_MISSES_PER_MINUTE,
        }
    }

    pub fn with_miss_limit(self, limit: i64) -> Self {
        RefundPage {
            misses_per_minute: limit,
            ..self
        }
    }

    pub async fn handle(&self, req: Request) -> Response<Body> {
        let now = Utc::now();
        let lang = Lang::of(&req);
        match self.route(&req, lang, now).await {
            Ok(resp) => resp,
            // A fault or an unreachable dependency: a page, not JSON (the customer's browser).
            Err(p) => frame::respond(p.status(), page::render(lang, None, &View::Fault)),
        }
    }

    async fn route(
        &self,
        req: &Request,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let found = routes()
            .find(req.method(), req.uri().path())
            .map_err(|miss| miss.problem())?;
        let token = found.param("token");
        let path = format!("/r/{token}");
        let who = format!(
            "refund-page#{}",
            smartpit_shared::http::source_ip(req).unwrap_or_else(|| "unknown".into())
        );
        if let Some(until) = smartpit_shared::guessing::refused_until(&who, now) {
            return Ok(self.too_many(lang, until, now));
        }
        let refund = match self.db.refund_by_token(token).await? {
            Some(r) => r,
            None => {
                if self.db.count_miss(&who, now).await? > self.misses_per_minute {
                    let until = smartpit_shared::guessing::refuse(&who, now);
                    return Ok(self.too_many(lang, until, now));
                }
                return Ok(frame::respond(
                    StatusCode::NOT_FOUND,
                    page::render(lang, Some(&path), &View::Unknown),
                ));
            }
        };
        let merchant_name = self.merchant_name(&refund).await?;
        if let Some(closed) = closed(&refund) {
            return Ok(frame::respond(
                StatusCode::GONE,
                page::render(lang, Some(&path), &closed),
            ));
        }
        match found.route {
            Route::Page => Ok(frame::respond(
                StatusCode::OK,
                page::render(
                    lang,
                    Some(&path),
                    &View::Form {
                        refund: &refund,
                        merchant_name: &merchant_name,
                        form: &AccountForm::default(),
                        errors: &[],
                    },
                ),
            )),
            Route::Details => {
                self.details(req, lang, &path, &refund, &merchant_name, now)
                    .await
            }
        }
    }

    async fn merchant_name(&self, refund: &Refund) -> Result<String, Problem> {
        Ok(self
            .db
            .get_merchant_invoice(&refund.merchant_id, &refund.invoice_id)
            .await?
            .map(|inv| inv.merchant_name)
            .unwrap_or_default())
    }

    fn too_many(&self, lang: Lang, until: i64, now: DateTime<Utc>) -> Response<Body> {
        let wait = (until - now.timestamp()).max(1);
        let mut resp = frame::respond(
            StatusCode::TOO_MANY_REQUESTS,
            page::render(lang, None, &View::TooMany),
        );
        if let Ok(v) = http::HeaderValue::from_str(&wait.to_string()) {
            resp.headers_mut().insert(http::header::RETRY_AFTER, v);
        }
        resp
    }

    /// `POST /r/{token}`: the form checked, the details sealed and stored, the merchant told.
    async fn details(
        &self,
        req: &Request,
        lang: Lang,
        path: &str,
        refund: &Refund,
        merchant_name: &str,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let form = read_form(req.body().as_ref());
        let checked = match CheckedAccount::of(&form) {
            Ok(c) => c,
            Err(errors) => {
                return Ok(frame::respond(
                    StatusCode::BAD_REQUEST,
                    page::render(
                        lang,
                        Some(path),
                        &View::Form {
                            refund,
                            merchant_name,
                            form: &form,
                            errors: &errors,
                        },
                    ),
                ))
            }
        };
        let (stored, received) = store_details(
            &self.db,
            self.kms.get(),
            &self.key_id,
            refund,
            &checked,
            now,
        )
        .await?;
        if !stored {
            // Given by another submit meanwhile (or cancelled): what it is now.
            let now_refund = self
                .db
                .refund_by_token(path.trim_start_matches("/r/"))
                .await?
                .unwrap_or_else(|| refund.clone());
            let view = closed(&now_refund).unwrap_or(View::AlreadyGiven);
            return Ok(frame::respond(
                StatusCode::GONE,
                page::render(lang, Some(path), &view),
            ));
        }
        // The operator's figure; never the account.
        tracing::info!(refund_id = %refund.id, "refund details received");
        Ok(frame::respond(
            StatusCode::OK,
            page::render(
                lang,
                Some(path),
                &View::Received {
                    refund: &received,
                    merchant_name,
                    expected: expected_transfer(now),
                },
            ),
        ))
    }
}

/// Seals a checked account with a data key bound to the refund and stores it, with
/// `refund.details_received`: whether it was stored (the refund still waited for one), and
/// the refund as it now is.
pub async fn store_details(
    db: &Db,
    kms: &aws_sdk_kms::Client,
    key_id: &str,
    refund: &Refund,
    checked: &CheckedAccount,
    now: DateTime<Utc>,
) -> Result<(bool, Refund), Problem> {
    let context = [
        ("refund_id", refund.id.as_str()),
        ("purpose", "refund_account"),
    ];
    let sealed =
        smartpit_shared::sealed::seal(kms, key_id, &context, checked.sealed_form().as_bytes())
            .await
            .map_err(|e| Problem::unavailable(&e))?;
    let masked = MaskedAccountView {
        bank_code: checked.bank.code.into(),
        bank_name: checked.bank.name.into(),
        branch_code: checked.branch.code.into(),
        branch_name: checked.branch.name.into(),
        account_type: checked.account_type.as_str().into(),
        number: zengin::masked(&checked.number),
    };
    let received = Refund {
        status: RefundStatus::DetailsReceived,
        account: Some(masked.clone()),
        details_received_at: Some(now),
        updated_at: now,
        ..refund.clone()
    };
    let event = Event::new(
        &refund.merchant_id,
        EventType::RefundDetailsReceived,
        Some(refund.invoice_id.as_str()),
        json!({"refund": received.view()}),
        now,
    );
    let parts = smartpit_shared::db::bank_accounts::SealedParts {
        encrypted_key: sealed.encrypted_key,
        nonce: sealed.nonce,
        ciphertext: sealed.ciphertext,
    };
    let stored = db
        .put_refund_details(refund, &masked, &parts, &event, now)
        .await?;
    Ok((stored, received))
}

/// What a refund no longer waiting for an account shows.
fn closed(r: &Refund) -> Option<View<'static>> {
    match r.status {
        RefundStatus::AwaitingDetails | RefundStatus::Failed => None,
        RefundStatus::DetailsReceived | RefundStatus::Filed => Some(View::AlreadyGiven),
        RefundStatus::Paid => Some(View::Paid),
        RefundStatus::Cancelled => Some(View::Cancelled),
    }
}

/// The form's fields (`application/x-www-form-urlencoded`; a body too large reads empty).
fn read_form(body: &[u8]) -> AccountForm {
    let mut form = AccountForm::default();
    if body.len() > FORM_BYTES {
        return form;
    }
    for (k, v) in url::form_urlencoded::parse(body) {
        let v = v.into_owned();
        match k.as_ref() {
            "bank" => form.bank = v,
            "branch" => form.branch = v,
            "account_type" => form.account_type = v,
            "number" => form.number = v,
            "holder" => form.holder = v,
            _ => {}
        }
    }
    form
}

/// What its `main` runs ([`smartpit_shared::lambda::http`]) and the local stack builds.
impl smartpit_shared::lambda::HttpFunction for RefundPage {
    fn configured(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        let key = vars
            .get("BANK_DATA_KEY")
            .ok_or("BANK_DATA_KEY: the key refund accounts are sealed under")?;
        Ok(
            RefundPage::new(sdk, res, key).with_miss_limit(smartpit_shared::guessing::limit_from(
                vars.get("MISSES_PER_MINUTE").map(String::as_str),
            )),
        )
    }

    fn serve(&self, req: Request) -> impl std::future::Future<Output = Response<Body>> + Send {
        self.handle(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_reads_its_fields_and_nothing_else() {
        let f = read_form(
            "bank=0005&branch=001&account_type=ordinary&number=1234567&holder=%EF%BE%94%EF%BE%8F%EF%BE%80%EF%BE%9E&x=1"
                .as_bytes(),
        );
        assert_eq!(
            (f.bank.as_str(), f.branch.as_str(), f.number.as_str()),
            ("0005", "001", "1234567")
        );
        assert_eq!(f.holder, "ﾔﾏﾀﾞ");
        assert_eq!(read_form(&vec![b'a'; FORM_BYTES + 1]).bank, "");
    }
}
