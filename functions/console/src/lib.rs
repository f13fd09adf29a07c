//! The merchant console (issue 22): a merchant without developers signs in by mail and runs its
//! bills in the browser, on the API's own operations (the registration is the invoices
//! function's `register_as`: the same rules, errors and events).
//!
//! - `GET /console/login`, `POST /console/login`: the address; the same answer whatever it is,
//!   and to a console user (added by the operator, `smartpit merchant-user add`) a mail with a
//!   one-time link good for 15 minutes. Rate-limited per address and per client.
//! - `GET /console/login/{token}`: a page with one button; `POST` to it takes the link and
//!   starts the session (a mail scanner that fetches the link signs no one in). The session is
//!   a `__Host-` cookie (Secure, HttpOnly, SameSite=Strict, Path=/) naming a stored session:
//!   30 minutes idle, 12 hours at most; `POST /console/logout` ends it everywhere.
//! - Every form carries the session's CSRF token; a POST without it, or with another's, is 403
//!   and changes nothing.
//! - `GET /console` (today), `GET /console/invoices` (newest first, by status, pages),
//!   `GET /console/invoices/new` and `POST /console/invoices` (register), `GET
//!   /console/invoices/{id}` (a bill with its payments and notices).

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use smartpit_invoices::requests::{ChangeInvoice, ListInvoices, MoveInvoice};
use smartpit_invoices::InvoicesFunction;
use smartpit_shared::auth::Merchant;
use smartpit_shared::config::{OnFirstUse, Resources};
use smartpit_shared::console::{
    normalized_address, same_secret, ConsoleUser, Session, COOKIE, MAX_AGE_SECONDS,
};
use smartpit_shared::db::InvoicePage;
use smartpit_shared::idempotent::{fingerprint, Keyed};
use smartpit_shared::ids::{base32, random_bytes};
use smartpit_shared::invoice::InvoiceFilter;
use smartpit_shared::routes::{Matched, Routes};
use smartpit_shared::timeouts::MAIL_SEND;
use smartpit_shared::{Db, InvoiceId, InvoiceStatus, Problem};
use smartpit_sheets::page::{respond, Lang};

pub mod bulk;
pub mod form;
pub mod money;
pub mod pages;
pub mod settings;
pub mod upload;
pub mod worker;
use pages::View;

/// What each of the function's routes does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    LoginForm,
    LoginRequest,
    LoginLink,
    LoginTake,
    Logout,
    Today,
    Invoices,
    NewInvoice,
    Register,
    Invoice,
    NewUpload,
    Upload,
    UploadStatus,
    Commit,
    Keys,
    RotateKey,
    Cancel,
    Resend,
    Change,
    Move,
    Payouts,
    Payout,
    StatementPdf,
    StatementCsv,
    Report,
    Settings,
    SaveContact,
    SaveReminders,
    SaveWebhook,
    TestWebhook,
    RotateWebhook,
    DeleteWebhook,
}

impl Route {
    /// Keys, webhooks and payout settings are an admin's.
    fn admins_only(self) -> bool {
        matches!(
            self,
            Route::Keys
                | Route::RotateKey
                | Route::SaveWebhook
                | Route::TestWebhook
                | Route::RotateWebhook
                | Route::DeleteWebhook
        )
    }
}

/// The console is three functions, each linking only what its pages use (the function size
/// budget): the bills (sign-in, today, bills, uploads, keys, the report), the settings
/// (contact details checked with libphonenumber's data, the webhook endpoint) and the payouts
/// (statements' presigned links). They share the sessions, the pages' frame and this table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Bills,
    Settings,
    Payouts,
}

impl Route {
    /// The function that serves the route.
    pub fn area(self) -> Area {
        match self {
            Route::Settings
            | Route::SaveContact
            | Route::SaveReminders
            | Route::SaveWebhook
            | Route::TestWebhook
            | Route::RotateWebhook
            | Route::DeleteWebhook => Area::Settings,
            Route::Payouts | Route::Payout | Route::StatementPdf | Route::StatementCsv => {
                Area::Payouts
            }
            _ => Area::Bills,
        }
    }
}

/// Every console route.
fn all_routes() -> Vec<(Method, &'static str, Route)> {
    vec![
        (Method::GET, "/console/login", Route::LoginForm),
        (Method::POST, "/console/login", Route::LoginRequest),
        (Method::GET, "/console/login/{token}", Route::LoginLink),
        (Method::POST, "/console/login/{token}", Route::LoginTake),
        (Method::POST, "/console/logout", Route::Logout),
        (Method::GET, "/console", Route::Today),
        (Method::GET, "/console/invoices", Route::Invoices),
        (Method::GET, "/console/invoices/new", Route::NewInvoice),
        (Method::POST, "/console/invoices", Route::Register),
        (Method::GET, "/console/invoices/{id}", Route::Invoice),
        (Method::GET, "/console/uploads/new", Route::NewUpload),
        (Method::POST, "/console/uploads", Route::Upload),
        (Method::GET, "/console/uploads/{id}", Route::UploadStatus),
        (Method::POST, "/console/uploads/{id}/commit", Route::Commit),
        (Method::POST, "/console/invoices/{id}/cancel", Route::Cancel),
        (Method::POST, "/console/invoices/{id}/resend", Route::Resend),
        (Method::POST, "/console/invoices/{id}/change", Route::Change),
        (Method::POST, "/console/invoices/{id}/move", Route::Move),
        (Method::GET, "/console/keys", Route::Keys),
        (Method::POST, "/console/keys/rotate", Route::RotateKey),
        (Method::GET, "/console/payouts", Route::Payouts),
        (Method::GET, "/console/payouts/{id}", Route::Payout),
        (
            Method::GET,
            "/console/payouts/{id}/statement.pdf",
            Route::StatementPdf,
        ),
        (
            Method::GET,
            "/console/payouts/{id}/statement.csv",
            Route::StatementCsv,
        ),
        (Method::GET, "/console/reports/payments", Route::Report),
        (Method::GET, "/console/settings", Route::Settings),
        (
            Method::POST,
            "/console/settings/contact",
            Route::SaveContact,
        ),
        (
            Method::POST,
            "/console/settings/reminders",
            Route::SaveReminders,
        ),
        (
            Method::POST,
            "/console/settings/webhook",
            Route::SaveWebhook,
        ),
        (
            Method::POST,
            "/console/settings/webhook/test",
            Route::TestWebhook,
        ),
        (
            Method::POST,
            "/console/settings/webhook/rotate",
            Route::RotateWebhook,
        ),
        (
            Method::POST,
            "/console/settings/webhook/delete",
            Route::DeleteWebhook,
        ),
    ]
}

/// The routes of one of the console's functions, as infra/template.yaml routes them to it (a
/// test holds the two equal).
pub fn routes(area: Area) -> &'static Routes<Route> {
    static BILLS: OnceLock<Routes<Route>> = OnceLock::new();
    static SETTINGS: OnceLock<Routes<Route>> = OnceLock::new();
    static PAYOUTS: OnceLock<Routes<Route>> = OnceLock::new();
    let cell = match area {
        Area::Bills => &BILLS,
        Area::Settings => &SETTINGS,
        Area::Payouts => &PAYOUTS,
    };
    cell.get_or_init(|| {
        all_routes()
            .into_iter()
            .filter(|(_, _, r)| r.area() == area)
            .fold(Routes::new(), |t, (m, path, r)| t.add(m, path, r))
    })
}

/// The bills' search form: the names of `GET /v1/invoices`'s query (and the page's cursor).
pub const SEARCH_FIELDS: [&str; 6] = [
    "merchant_order_id",
    "smartpit_number",
    "status",
    "created_from",
    "created_to",
    "cursor",
];

/// Sign-in requests an address may make in a quarter hour, and a client address.
pub const LOGIN_REQUESTS_PER_ADDRESS: i64 = 5;
pub const LOGIN_REQUESTS_PER_CLIENT: i64 = 30;

pub struct Console {
    db: Db,
    invoices: InvoicesFunction,
    /// The sign-in mail's client (the bills' function only).
    ses: Option<OnFirstUse<aws_sdk_sesv2::Client>>,
    /// The background run's queue (long uploads; the bills' function only).
    uploads: Option<OnFirstUse<aws_sdk_sqs::Client>>,
    upload_queue: String,
}

/// What one of the console's functions serves beyond the sessions the three share: its
/// routes' pages. Each function's binary names its part, so it links only that part's code.
pub trait Part: Send + Sync + Sized + 'static {
    const AREA: Area;

    fn configured(
        sdk: &aws_config::SdkConfig,
        vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String>;

    /// A request of one of the part's routes (`Console::gate` says who is signed in).
    fn serve<'a>(
        &'a self,
        console: &'a Console,
        req: &'a Request,
        found: &'a Matched<Route>,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> impl std::future::Future<Output = Result<Response<Body>, Problem>> + Send + 'a;
}

/// The bills' function (`console`): its routes are the console's own.
pub struct Bills;

impl Part for Bills {
    const AREA: Area = Area::Bills;

    fn configured(
        _: &aws_config::SdkConfig,
        _: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        Ok(Bills)
    }

    async fn serve<'a>(
        &'a self,
        console: &'a Console,
        req: &'a Request,
        found: &'a Matched<Route>,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        console.bills(req, found, lang, now).await
    }
}

/// One of the console's functions: the shared console and its part.
pub struct ConsoleFunction<P: Part> {
    pub console: Console,
    pub part: P,
}

/// A signed-in request: its session (cookie value and record) and merchant.
pub struct Signed {
    pub cookie: String,
    pub session: Session,
    pub merchant: Merchant,
}

impl Console {
    /// The bills' function's console: sends the sign-in mail and hands long uploads over.
    pub fn new(sdk: &aws_config::SdkConfig, res: Resources, upload_queue: String) -> Self {
        let for_ses = sdk.clone();
        Console {
            uploads: Some(worker::queue_client(sdk)),
            upload_queue,
            db: Db::new(sdk, res.clone()),
            invoices: InvoicesFunction::new(sdk, res),
            ses: Some(OnFirstUse::new(move || {
                let conf = aws_sdk_sesv2::config::Builder::from(&for_ses)
                    .timeout_config(MAIL_SEND.timeouts())
                    .retry_config(MAIL_SEND.retries())
                    .interceptor(smartpit_shared::calls::CountCalls)
                    .build();
                aws_sdk_sesv2::Client::from_conf(conf)
            })),
        }
    }

    /// The console of the settings' and payouts' functions: sessions and pages only (neither
    /// the mail client nor the queue's is in their binaries).
    pub fn shared(sdk: &aws_config::SdkConfig, res: Resources) -> Self {
        Console {
            uploads: None,
            upload_queue: String::new(),
            db: Db::new(sdk, res.clone()),
            invoices: InvoicesFunction::new(sdk, res),
            ses: None,
        }
    }

    pub async fn handle<P: Part>(&self, part: &P, req: Request) -> Response<Body> {
        let now = Utc::now();
        let (lang, chosen) = console_lang(&req);
        let mut resp = self.answer(part, &req, lang, now).await;
        if let Some(c) = chosen.and_then(|c| HeaderValue::from_str(&c).ok()) {
            resp.headers_mut().append(http::header::SET_COOKIE, c);
        }
        resp
    }

    async fn answer<P: Part>(
        &self,
        part: &P,
        req: &Request,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Response<Body> {
        match self.route(part, req, lang, now).await {
            Ok(resp) => resp,
            Err(p) if p.status() == StatusCode::NOT_FOUND => {
                page(StatusCode::NOT_FOUND, lang, None, &View::NotFound)
            }
            Err(p) => {
                tracing::warn!(code = p.code.as_str(), "console request failed");
                page(p.status(), lang, None, &View::Fault)
            }
        }
    }

    async fn route<P: Part>(
        &self,
        part: &P,
        req: &Request,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let found = routes(P::AREA)
            .find(req.method(), req.uri().path())
            .map_err(|miss| miss.problem())?;
        // Each part answers its routes whole: a binary's async state machines hold only its
        // own part's pages (a branch on `P::AREA` here would keep the others' in every binary).
        part.serve(self, req, &found, lang, now).await
    }

    /// Who is signed in for a request to `route`, or the page to answer instead: sign-in when
    /// the session does not hold, 403 for a form without the session's token or a staff
    /// user's request of an admin's page.
    pub(crate) async fn gate(
        &self,
        req: &Request,
        route: Route,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<Result<Signed, Response<Body>>, Problem> {
        let Some(signed) = self.signed(req, now).await? else {
            return Ok(Err(see_other("/console/login", None)));
        };
        // The upload's token is in its multipart body, checked as it is read.
        if req.method() == Method::POST
            && route != Route::Upload
            && !csrf_holds(req, &signed.session)
        {
            tracing::warn!(merchant_id = %signed.merchant.id, "console form without its session's token");
            return Ok(Err(page(
                StatusCode::FORBIDDEN,
                lang,
                Some(&signed),
                &View::Forbidden,
            )));
        }
        if route.admins_only() && signed.session.role != smartpit_shared::console::Role::Admin {
            return Ok(Err(page(
                StatusCode::FORBIDDEN,
                lang,
                Some(&signed),
                &View::AdminsOnly,
            )));
        }
        Ok(Ok(signed))
    }

    /// The bills' function's routes (`console`): sign-in, then the signed-in pages.
    async fn bills(
        &self,
        req: &Request,
        found: &Matched<Route>,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        match found.route {
            Route::LoginForm => {
                return Ok(page(
                    StatusCode::OK,
                    lang,
                    None,
                    &View::Login { sent: false },
                ))
            }
            Route::LoginRequest => return self.login_request(req, lang, now).await,
            Route::LoginLink => {
                return Ok(page(
                    StatusCode::OK,
                    lang,
                    None,
                    &View::LoginLink {
                        token: found.param("token"),
                    },
                ))
            }
            Route::LoginTake => return self.login_take(found.param("token"), lang, now).await,
            _ => {}
        }
        let route = found.route;
        let signed = match self.gate(req, route, lang, now).await? {
            Ok(signed) => signed,
            Err(answer) => return Ok(answer),
        };
        match route {
            Route::Logout => self.logout(&signed).await,
            Route::Today => self.today(&signed, lang, now).await,
            Route::Invoices => self.list(req, &signed, lang, now).await,
            Route::NewInvoice => Ok(page(
                StatusCode::OK,
                lang,
                Some(&signed),
                &View::NewInvoice {
                    form: &form::InvoiceForm::fresh(),
                    errors: &[],
                },
            )),
            Route::Register => self.register(req, &signed, lang, now).await,
            Route::NewUpload => Ok(page(
                StatusCode::OK,
                lang,
                Some(&signed),
                &View::NewUpload { error: None },
            )),
            Route::Upload => self.upload(req, &signed, lang, now).await,
            Route::Commit => self.commit(found.param("id"), &signed, lang, now).await,
            Route::UploadStatus => {
                let id = found.param("id");
                let state = self.upload_of(&signed, id).await?;
                Ok(page(
                    StatusCode::OK,
                    lang,
                    Some(&signed),
                    &View::Committed { id, state: &state },
                ))
            }
            Route::Keys => self.keys(&signed, lang, None, now).await,
            Route::Cancel | Route::Resend | Route::Change | Route::Move => {
                self.act(req, route, found.param("id"), &signed, lang, now)
                    .await
            }
            Route::RotateKey => self.rotate_key(&signed, lang, now).await,
            Route::Report => self.report(req, &signed, lang, now).await,
            _ => {
                self.invoice(found.param("id"), &signed, lang, None, now)
                    .await
            }
        }
    }

    /// The session the request's cookie names, if it still holds (used within 30 minutes,
    /// younger than 12 hours, no sign-out since); its use recorded at most once a minute.
    async fn signed(&self, req: &Request, now: DateTime<Utc>) -> Result<Option<Signed>, Problem> {
        let Some(cookie) = session_cookie(req) else {
            return Ok(None);
        };
        let Some(session) = self.db.session(&cookie).await? else {
            return Ok(None);
        };
        let Some(user) = self.db.console_user(&session.email).await? else {
            return Ok(None);
        };
        if user.merchant_id != session.merchant_id || !session.holds(now, user.epoch) {
            return Ok(None);
        }
        let Some(merchant) = self.db.get_merchant(&session.merchant_id).await? else {
            return Ok(None);
        };
        if session.wants_touch(now) {
            self.db.touch_session(&cookie, now).await?;
        }
        Ok(Some(Signed {
            cookie,
            session,
            merchant,
        }))
    }

    /// `POST /console/login`: the same page whatever the address; a mail to a console user.
    async fn login_request(
        &self,
        req: &Request,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let fields = form::fields(req.body().as_ref());
        let address = normalized_address(form::get(&fields, "email"));
        let client = smartpit_shared::http::source_ip(req).unwrap_or_else(|| "unknown".into());
        let by_client = self
            .db
            .count_login_request(&format!("client#{client}"), now)
            .await?;
        if by_client > LOGIN_REQUESTS_PER_CLIENT {
            let mut resp = page(StatusCode::TOO_MANY_REQUESTS, lang, None, &View::TooMany);
            resp.headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("900"));
            return Ok(resp);
        }
        if smartpit_shared::mail_address::check(&address).is_ok() {
            // Counted by the address's hash: the counter holds no address.
            let hashed = smartpit_shared::ids::sha256_hex(&address);
            let by_address = self
                .db
                .count_login_request(&format!("address#{hashed}"), now)
                .await?;
            if by_address <= LOGIN_REQUESTS_PER_ADDRESS {
                if let Some(user) = self.db.console_user(&address).await? {
                    self.send_link(&user, lang, now).await?;
                }
            }
        }
        Ok(page(
            StatusCode::OK,
            lang,
            None,
            &View::Login { sent: true },
        ))
    }

    async fn send_link(
        &self,
        user: &ConsoleUser,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<(), Problem> {
        let token = base32(&random_bytes::<20>());
        self.db.put_login_link(user, &token, now).await?;
        let link = format!(
            "{}/console/login/{token}",
            self.db.res.public_base_url.trim_end_matches('/')
        );
        let mail = pages::login_mail(lang, &link);
        let bytes = mail_builder::MessageBuilder::new()
            .from(("スマートピット", self.db.res.mail_from.as_str()))
            .to(user.email.as_str())
            .subject(pages::LOGIN_SUBJECT)
            .text_body(mail)
            .write_to_vec()
            .map_err(|e| Problem::internal(&e))?;
        let raw = aws_sdk_sesv2::types::RawMessage::builder()
            .data(aws_sdk_sesv2::primitives::Blob::new(bytes))
            .build()
            .map_err(|e| Problem::internal(&e))?;
        let ses = self
            .ses
            .as_ref()
            .ok_or_else(|| Problem::internal(&"no mail client in this function"))?;
        let sent = ses
            .get()
            .send_email()
            .from_email_address(&self.db.res.mail_from)
            .destination(
                aws_sdk_sesv2::types::Destination::builder()
                    .to_addresses(&user.email)
                    .build(),
            )
            .content(
                aws_sdk_sesv2::types::EmailContent::builder()
                    .raw(raw)
                    .build(),
            )
            .send()
            .await;
        match sent {
            Ok(_) => {
                tracing::info!(merchant_id = %user.merchant_id, "console sign-in link sent");
                Ok(())
            }
            // The page says the same either way; the operator sees why in the log.
            Err(e) => {
                use aws_sdk_sesv2::error::ProvideErrorMetadata;
                let code = e
                    .as_service_error()
                    .and_then(|s| s.code())
                    .unwrap_or("no answer");
                tracing::warn!(merchant_id = %user.merchant_id, code, "console sign-in link not sent");
                Ok(())
            }
        }
    }

    /// `POST /console/login/{token}`: the link taken (once), a session started.
    async fn login_take(
        &self,
        token: &str,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let user = match self.db.take_login_link(token, now).await? {
            Some(address) => self.db.console_user(&address).await?,
            None => None,
        };
        let Some(user) = user else {
            return Ok(page(StatusCode::GONE, lang, None, &View::LinkUsed));
        };
        let cookie = base32(&random_bytes::<20>());
        let session = Session {
            email: user.email.clone(),
            merchant_id: user.merchant_id.clone(),
            role: user.role,
            epoch: user.epoch,
            csrf: base32(&random_bytes::<20>()),
            created_at: now.timestamp(),
            last_seen: now.timestamp(),
        };
        self.db.put_session(&cookie, &session).await?;
        tracing::info!(merchant_id = %user.merchant_id, "console session started");
        Ok(see_other("/console", Some(session_set_cookie(&cookie))))
    }

    async fn logout(&self, signed: &Signed) -> Result<Response<Body>, Problem> {
        self.db
            .end_sessions(&signed.cookie, &signed.session.email)
            .await?;
        Ok(see_other("/console/login", Some(session_clear_cookie())))
    }

    async fn today(
        &self,
        signed: &Signed,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let day = smartpit_shared::clock::jst_date(now);
        let lines = self.db.paid_lines(&signed.merchant.id, day).await?;
        let collected: i64 = lines.iter().map(|l| l.amount + l.customer_fee).sum();
        let open = self
            .db
            .list_invoices(
                &signed.merchant.id,
                &InvoiceFilter::by_status(Some(InvoiceStatus::Registered)),
                100,
                None,
                now,
            )
            .await?;
        let soon = now.timestamp() + 3 * 24 * 3600;
        let mut due: Vec<_> = open
            .invoices
            .iter()
            .filter(|i| i.deadline <= soon)
            .cloned()
            .collect();
        due.sort_by_key(|i| i.deadline);
        // The customers' notices that failed, among the merchant's latest events.
        let failed = self
            .db
            .list_events(
                &signed.merchant.id,
                Some(smartpit_shared::webhook::EventType::NoticeFailed),
                None,
                RECENT_EVENTS,
                None,
            )
            .await?;
        Ok(page(
            StatusCode::OK,
            lang,
            Some(signed),
            &View::Today {
                day,
                paid_count: lines.len(),
                collected,
                open_count: open.invoices.len(),
                more_open: open.next_cursor.is_some(),
                due_soon: &due,
                failed_notices: &failed.events,
                now,
            },
        ))
    }

    /// `GET /console/invoices`: the bills, newest first, searched as `GET /v1/invoices` is (the
    /// API's own request type checks the form: order id, number, status, registration days).
    async fn list(
        &self,
        req: &Request,
        signed: &Signed,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let q = lambda_http::RequestExt::query_string_parameters(req);
        let search: Vec<(String, String)> = SEARCH_FIELDS
            .iter()
            .filter_map(|name| {
                let v = q.first(name)?.trim();
                (!v.is_empty()).then(|| (name.to_string(), v.to_string()))
            })
            .collect();
        let asked = serde_json::Value::Object(
            search
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
                .collect(),
        );
        let show = |status: StatusCode, listed: &InvoicePage, errors: &[(String, String)]| {
            page(
                status,
                lang,
                Some(signed),
                &View::Invoices {
                    page: listed,
                    search: &search,
                    errors,
                    now,
                },
            )
        };
        let asked = match smartpit_shared::request::read_value::<ListInvoices>(&asked, now) {
            Ok(a) => a,
            Err(p) => {
                let none = InvoicePage {
                    invoices: Vec::new(),
                    next_cursor: None,
                };
                return Ok(show(StatusCode::BAD_REQUEST, &none, &form::errors_of(&p)));
            }
        };
        let filter = asked.filter();
        let cursor = q.first("cursor").filter(|c| !c.is_empty());
        let listed = match self
            .db
            .list_invoices(&signed.merchant.id, &filter, 20, cursor, now)
            .await
        {
            Ok(p) => p,
            // A cursor that is not ours (forged, or of another listing): the first page.
            Err(smartpit_shared::db::StoreError::Refused(_)) => {
                self.db
                    .list_invoices(&signed.merchant.id, &filter, 20, None, now)
                    .await?
            }
            Err(e) => return Err(e.into()),
        };
        Ok(show(StatusCode::OK, &listed, &[]))
    }

    /// The bill's buttons: cancel (`invoice.cancelled`, as `POST /v1/invoices/{id}/cancel`) and
    /// re-send its registration mail (as `POST /v1/invoices/{id}/resend`, under the button's
    /// own key), by the API's own code; then the bill's page, with what was refused and why.
    async fn act(
        &self,
        req: &Request,
        route: Route,
        id: &str,
        signed: &Signed,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let merchant = &signed.merchant;
        let fields = form::fields(req.body().as_ref());
        let idem = form::InvoiceForm::read(&fields).idem;
        // Where the bill's page is after the button: a move's is the new bill's.
        let outcome: Result<String, Problem> = match route {
            Route::Cancel => self
                .db
                .cancel_invoice(&merchant.id, id, now)
                .await
                .map(|inv| {
                    tracing::info!(invoice_id = %inv.id, merchant_id = %merchant.id, "invoice cancelled in the console");
                    id.to_string()
                })
                .map_err(Problem::from),
            Route::Change => self.change(&fields, &idem, id, signed, now).await,
            Route::Move => {
                let json = serde_json::json!({
                    "smartpit_number": form::get(&fields, "smartpit_number").trim()
                });
                match smartpit_shared::request::read_value::<MoveInvoice>(&json, now) {
                    Ok(body) => {
                        let keyed =
                            console_key("move", &idem, "POST", &format!("/v1/invoices/{id}/move"), &json);
                        self.invoices
                            .move_as(merchant, &keyed, body, id, now)
                            .await
                            .and_then(|resp| created_id(&resp))
                    }
                    Err(p) => Err(p),
                }
            }
            _ => {
                let keyed = console_key(
                    "resend",
                    &idem,
                    "POST",
                    &format!("/v1/invoices/{id}/resend"),
                    &serde_json::Value::Null,
                );
                self.invoices
                    .resend_as(merchant, &keyed, id, now)
                    .await
                    .map(|_| id.to_string())
            }
        };
        match outcome {
            Ok(to) => Ok(see_other(
                &href_in(lang, &format!("/console/invoices/{to}")),
                None,
            )),
            Err(p) if p.status() == StatusCode::NOT_FOUND => Err(p),
            Err(p) if p.status().is_client_error() => {
                let why = form::errors_of(&p)
                    .into_iter()
                    .map(|(field, m)| match field.is_empty() {
                        true => m,
                        false => format!("{field}: {m}"),
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut resp = self.invoice(id, signed, lang, Some(&why), now).await?;
                *resp.status_mut() = p.status();
                Ok(resp)
            }
            Err(p) => Err(p),
        }
    }

    /// The change form as the API's `PATCH /v1/invoices/{id}` (only what differs from the
    /// bill), run by the API's code under the form's own key.
    async fn change(
        &self,
        fields: &[(String, String)],
        idem: &str,
        id: &str,
        signed: &Signed,
        now: DateTime<Utc>,
    ) -> Result<String, Problem> {
        let merchant = &signed.merchant;
        let inv = self
            .db
            .get_merchant_invoice(&merchant.id, id)
            .await?
            .ok_or_else(|| Problem::of(smartpit_shared::Code::InvoiceNotFound))?;
        let json = match form::change_request(fields, &inv) {
            Ok(Some(json)) => json,
            // Nothing differs: nothing to send.
            Ok(None) => return Ok(id.to_string()),
            Err(errors) => {
                let (field, message) = errors.into_iter().next().unwrap_or_default();
                let code = match field.as_str() {
                    "customer_fee" => smartpit_shared::Code::InvalidCustomerFee,
                    _ => smartpit_shared::Code::InvalidAmount,
                };
                return Err(Problem::field(&field, code, message));
            }
        };
        let body = smartpit_shared::request::read_value::<ChangeInvoice>(&json, now)?;
        let keyed = console_key(
            "change",
            idem,
            "PATCH",
            &format!("/v1/invoices/{id}"),
            &json,
        );
        self.invoices
            .change_as(merchant, &keyed, body, id, now)
            .await
            .map(|_| id.to_string())
    }

    async fn invoice(
        &self,
        id: &str,
        signed: &Signed,
        lang: Lang,
        refused: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let not_found = || Problem::of(smartpit_shared::Code::InvoiceNotFound);
        InvoiceId::parse(id).ok_or_else(not_found)?;
        let inv = self
            .db
            .get_merchant_invoice(&signed.merchant.id, id)
            .await?
            .ok_or_else(not_found)?;
        let (events, more_events) = self
            .db
            .invoice_events(&signed.merchant.id, inv.id.as_str())
            .await?;
        Ok(page(
            StatusCode::OK,
            lang,
            Some(signed),
            &View::Invoice {
                inv: &inv,
                refused,
                events: &events,
                more_events,
                now,
            },
        ))
    }

    /// `POST /console/uploads`: the file read, every line checked by the API's rules, the good
    /// lines kept for the commit (a day), the preview naming each bad line.
    async fn upload(
        &self,
        req: &Request,
        signed: &Signed,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let refused = |error: String| {
            page(
                StatusCode::BAD_REQUEST,
                lang,
                Some(signed),
                &View::NewUpload {
                    error: Some(&error),
                },
            )
        };
        let (csrf, file) = match read_upload(req).await {
            Ok(parts) => parts,
            Err(e) => {
                // Without a readable body there is no token either: refused as a form of no
                // session's.
                tracing::info!(merchant_id = %signed.merchant.id, "upload not read: {e}");
                return Ok(page(
                    StatusCode::FORBIDDEN,
                    lang,
                    Some(signed),
                    &View::Forbidden,
                ));
            }
        };
        if !same_secret(&csrf, &signed.session.csrf) {
            return Ok(page(
                StatusCode::FORBIDDEN,
                lang,
                Some(signed),
                &View::Forbidden,
            ));
        }
        let Some(file) = file.filter(|f| !f.is_empty()) else {
            return Ok(refused(
                lang.pick("ファイルを選んでください。", "Choose a file.")
                    .into(),
            ));
        };
        let parsed = match upload::read(&file, now) {
            Ok(p) => p,
            Err(e) => return Ok(refused(e)),
        };
        let id = upload::file_id(&file);
        let lines: Vec<(usize, String)> = parsed
            .good
            .iter()
            .map(|l| (l.number, l.json.to_string()))
            .collect();
        let mut bad_lines: Vec<usize> = parsed.bad.iter().map(|b| b.0).collect();
        bad_lines.dedup();
        self.db
            .put_upload(
                &signed.merchant.id,
                &id,
                &lines,
                i64::try_from(bad_lines.len()).unwrap_or(i64::MAX),
                now,
            )
            .await?;
        tracing::info!(merchant_id = %signed.merchant.id, good = lines.len(), bad = bad_lines.len(), "bulk file checked");
        Ok(page(
            StatusCode::OK,
            lang,
            Some(signed),
            &View::Preview {
                id: &id,
                good: lines.len(),
                bad: &parsed.bad,
            },
        ))
    }

    /// `POST /console/uploads/{id}/commit`: the good lines registered in file order, each by
    /// the API's code under `csv-<file>-<line>` (the same line of the same file registers
    /// once), for at most 20 s a request; the page says how far it got and offers to go on.
    /// The merchant's upload (an id of the wrong shape, or another merchant's: not found).
    async fn upload_of(
        &self,
        signed: &Signed,
        id: &str,
    ) -> Result<smartpit_shared::db::UploadState, Problem> {
        let not_found = || Problem::of(smartpit_shared::Code::RouteNotFound);
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(not_found());
        }
        self.db
            .upload_state(&signed.merchant.id, id)
            .await?
            .ok_or_else(not_found)
    }

    /// `POST /console/uploads/{id}/commit`: a short file's lines registered in this request
    /// (up to 20 s, then its progress and a button to go on); a long one's handed to the
    /// background run (once, however often the button is pressed), its page showing progress.
    async fn commit(
        &self,
        id: &str,
        signed: &Signed,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let merchant = &signed.merchant;
        let mut state = self.upload_of(signed, id).await?;
        if state.good - state.next > INLINE_LINES || state.queued {
            if self.db.queue_upload(&merchant.id, id, now).await? {
                let job = worker::UploadJob {
                    merchant_id: merchant.id.clone(),
                    upload_id: id.to_string(),
                };
                let uploads = self
                    .uploads
                    .as_ref()
                    .ok_or_else(|| Problem::internal(&"no upload queue in this function"))?;
                worker::enqueue(uploads.get(), &self.upload_queue, &job)
                    .await
                    .map_err(|e| Problem::unavailable(&e))?;
                tracing::info!(merchant_id = %merchant.id, lines = state.good - state.next, "bulk registration handed to the background run");
            }
            return Ok(see_other(
                &href_in(lang, &format!("/console/uploads/{id}")),
                None,
            ));
        }
        state = bulk::register_lines(&self.db, &self.invoices, merchant, id, COMMIT_BUDGET, now)
            .await?;
        Ok(page(
            StatusCode::OK,
            lang,
            Some(signed),
            &View::Committed { id, state: &state },
        ))
    }

    /// `GET /console/keys` (admins): the merchant's API keys by prefix and state; after a
    /// rotation, the new key, shown this once.
    async fn keys(
        &self,
        signed: &Signed,
        lang: Lang,
        new_key: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let owner = smartpit_shared::db::keys::KeyOwner::Merchant(signed.merchant.id.clone());
        let keys = self.db.list_keys(&owner).await?;
        Ok(page(
            StatusCode::OK,
            lang,
            Some(signed),
            &View::Keys {
                keys: &keys,
                new_key,
                now,
            },
        ))
    }

    /// `POST /console/keys/rotate` (admins): a new key; the others stop in 24 hours.
    async fn rotate_key(
        &self,
        signed: &Signed,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let env = match self.db.res.key_environment.as_str() {
            e @ ("test" | "live") => e,
            _ => {
                return Err(Problem::internal(
                    &"KEY_ENVIRONMENT is neither test nor live",
                ))
            }
        };
        let key = smartpit_shared::ids::new_secret(&format!("sk_{env}"));
        self.db.put_merchant(&signed.merchant, &key, now).await?;
        let owner = smartpit_shared::db::keys::KeyOwner::Merchant(signed.merchant.id.clone());
        let ended = self
            .db
            .expire_keys(&owner, &key, now.timestamp() + KEY_GRACE_SECONDS)
            .await?;
        tracing::info!(merchant_id = %signed.merchant.id, ended, "API key rotated in the console");
        self.keys(signed, lang, Some(&key), now).await
    }

    /// `POST /console/invoices`: the form read into the API's request and registered by the
    /// API's code under the form's own idempotency key (a second submit of the same form
    /// registers nothing twice); a mistake shows the form again with each field's message.
    async fn register(
        &self,
        req: &Request,
        signed: &Signed,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let fields = form::fields(req.body().as_ref());
        let filled = form::InvoiceForm::read(&fields);
        let again = |errors: Vec<(String, String)>| {
            page(
                StatusCode::BAD_REQUEST,
                lang,
                Some(signed),
                &View::NewInvoice {
                    form: &filled,
                    errors: &errors,
                },
            )
        };
        let (body, json) = match filled.request() {
            Ok(b) => b,
            Err(errors) => return Ok(again(errors)),
        };
        let keyed = Keyed {
            key: format!("console-{}", filled.idem),
            fingerprint: fingerprint("POST", "/v1/invoices", &json),
        };
        match self
            .invoices
            .register_as(&signed.merchant, &keyed, body, now)
            .await
        {
            Ok(resp) if resp.status().is_success() => {
                let answer: serde_json::Value =
                    serde_json::from_slice(resp.body().as_ref()).unwrap_or_default();
                match answer["id"].as_str() {
                    Some(id) => Ok(see_other(&format!("/console/invoices/{id}"), None)),
                    None => Err(Problem::internal(&"a registration answered without its id")),
                }
            }
            Ok(resp) => Ok(again(vec![(
                String::new(),
                format!("HTTP {}", resp.status().as_u16()),
            )])),
            Err(p) if p.status().is_client_error() => Ok(again(form::errors_of(&p))),
            Err(p) => Err(p),
        }
    }
}

/// What the settings page shows besides the stored settings: the last form's outcome.
impl Console {
    /// The merchant's payout (another merchant's, or an id of no payout, is not found).
    pub(crate) async fn own_payout(
        &self,
        signed: &Signed,
        id: &str,
    ) -> Result<smartpit_shared::payout::Payout, Problem> {
        self.db
            .get_payout(&signed.merchant.id, id)
            .await?
            .ok_or_else(|| Problem::of(smartpit_shared::Code::PayoutNotFound))
    }

    /// `GET /console/reports/payments?date=`: the API's CSV of the day's payments (today's
    /// when no day is given); a day that is not one: the today page, 400.
    async fn report(
        &self,
        req: &Request,
        signed: &Signed,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let q = lambda_http::RequestExt::query_string_parameters(req);
        let day = match q.first("date").map(str::trim).filter(|d| !d.is_empty()) {
            None => smartpit_shared::clock::jst_date(now),
            Some(d) => match smartpit_shared::clock::parse_day(d) {
                Ok(day) => day,
                Err(_) => {
                    let mut resp = self.today(signed, lang, now).await?;
                    *resp.status_mut() = StatusCode::BAD_REQUEST;
                    return Ok(resp);
                }
            },
        };
        self.invoices
            .payments_report_as(&signed.merchant, day, false)
            .await
    }
}

/// A console path in the page's language (the `lang` query kept).
fn href_in(lang: Lang, path: &str) -> String {
    match lang {
        Lang::Ja => path.to_string(),
        Lang::En if path.contains('?') => format!("{path}&lang=en"),
        Lang::En => format!("{path}?lang=en"),
    }
}

/// The latest events the today page looks through for failed notices.
pub const RECENT_EVENTS: i32 = 100;

/// How long the old keys keep working after a rotation in the console.
pub const KEY_GRACE_SECONDS: i64 = 24 * 3600;

/// A file with more good lines left than this goes to the background run (one request
/// registers about this many well within its time).
pub const INLINE_LINES: i64 = 100;

/// How long one commit request registers lines before it answers with its progress (API
/// Gateway gives a request 30 s).
const COMMIT_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// The upload form's token and file (`multipart/form-data`, read by `multer`).
async fn read_upload(req: &Request) -> Result<(String, Option<Vec<u8>>), String> {
    let ct = smartpit_shared::http::header(req, "content-type").unwrap_or_default();
    let boundary = multer::parse_boundary(ct).map_err(|e| e.to_string())?;
    let body = req.body().as_ref().to_vec();
    if body.len() > upload::MAX_BYTES + 64 * 1024 {
        return Err("the body is too large".into());
    }
    let stream =
        futures::stream::once(async move { Ok::<_, std::io::Error>(bytes::Bytes::from(body)) });
    let mut parts = multer::Multipart::new(stream, boundary);
    let (mut csrf, mut file) = (String::new(), None);
    while let Some(field) = parts.next_field().await.map_err(|e| e.to_string())? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(|e| e.to_string())?,
            Some("file") => file = Some(field.bytes().await.map_err(|e| e.to_string())?.to_vec()),
            _ => {}
        }
    }
    Ok((csrf, file))
}

/// The cookie that keeps the language a user chose with the switch.
pub const LANG_COOKIE: &str = "__Host-console-lang";

/// The page's language: `?lang=` (then kept in a cookie, whose `Set-Cookie` is returned), else
/// the cookie, else the browser's `Accept-Language`, Japanese first.
fn console_lang(req: &Request) -> (Lang, Option<String>) {
    let asked = lambda_http::RequestExt::query_string_parameters(req)
        .first("lang")
        .map(str::to_string);
    let keep = |code: &str| {
        cookie::Cookie::build((LANG_COOKIE, code.to_string()))
            .secure(true)
            .http_only(true)
            .same_site(cookie::SameSite::Lax)
            .path("/")
            .max_age(cookie::time::Duration::days(365))
            .build()
            .to_string()
    };
    match asked.as_deref() {
        Some("en") => return (Lang::En, Some(keep("en"))),
        Some("ja") => return (Lang::Ja, Some(keep("ja"))),
        _ => {}
    }
    let kept = smartpit_shared::http::header(req, "cookie").and_then(|h| {
        cookie::Cookie::split_parse(h)
            .filter_map(Result::ok)
            .find(|c| c.name() == LANG_COOKIE)
            .map(|c| c.value().to_string())
    });
    match kept.as_deref() {
        Some("en") => (Lang::En, None),
        Some("ja") => (Lang::Ja, None),
        _ => (Lang::of(req), None),
    }
}

/// A form's idempotency key as the API's request would carry it: `console-<what>-<form key>`,
/// fingerprinted as the API fingerprints the same request.
fn console_key(
    what: &str,
    idem: &str,
    method: &str,
    path: &str,
    json: &serde_json::Value,
) -> Keyed {
    Keyed {
        key: format!("console-{what}-{idem}"),
        fingerprint: fingerprint(method, path, json),
    }
}

/// The id in a 201's JSON answer (a moved bill's).
fn created_id(resp: &Response<Body>) -> Result<String, Problem> {
    let answer: serde_json::Value =
        serde_json::from_slice(resp.body().as_ref()).unwrap_or_default();
    answer["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Problem::internal(&"an answer without its id"))
}

/// The session cookie's value, read by the `cookie` crate.
fn session_cookie(req: &Request) -> Option<String> {
    let header = smartpit_shared::http::header(req, "cookie")?;
    cookie::Cookie::split_parse(header)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 64)
}

fn session_set_cookie(value: &str) -> String {
    cookie::Cookie::build((COOKIE, value.to_string()))
        .secure(true)
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .path("/")
        .max_age(cookie::time::Duration::seconds(MAX_AGE_SECONDS))
        .build()
        .to_string()
}

fn session_clear_cookie() -> String {
    cookie::Cookie::build((COOKIE, ""))
        .secure(true)
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

/// Whether the form carries this session's CSRF token.
fn csrf_holds(req: &Request, session: &Session) -> bool {
    let fields = form::fields(req.body().as_ref());
    same_secret(form::get(&fields, "csrf"), &session.csrf)
}

/// 303 to `location` (after a form), with a cookie to set.
fn see_other(location: &str, cookie: Option<String>) -> Response<Body> {
    let mut resp = respond(StatusCode::SEE_OTHER, String::new());
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(http::header::LOCATION, v);
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().insert(http::header::SET_COOKIE, c);
    }
    resp
}

fn page(status: StatusCode, lang: Lang, signed: Option<&Signed>, view: &View) -> Response<Body> {
    respond(status, pages::render(lang, signed, view))
}

/// What its `main` runs ([`smartpit_shared::lambda::http`]) and the local stack builds.
impl<P: Part> smartpit_shared::lambda::HttpFunction for ConsoleFunction<P> {
    fn configured(
        sdk: &aws_config::SdkConfig,
        res: Resources,
        vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        // Only the bills' function mails and hands uploads over (a constant of each binary: the
        // others do not link those clients).
        let console = match P::AREA {
            Area::Bills => Console::new(sdk, res, worker::queue_url(vars)?),
            _ => Console::shared(sdk, res),
        };
        Ok(ConsoleFunction {
            console,
            part: P::configured(sdk, vars)?,
        })
    }

    fn serve(&self, req: Request) -> impl std::future::Future<Output = Response<Body>> + Send {
        self.console.handle(&self.part, req)
    }
}
