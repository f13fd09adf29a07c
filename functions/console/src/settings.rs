//! The settings page: how customers reach the merchant (contact details), reminders, and for
//! admins the webhook endpoint (set it, try it with a test event, rotate or remove its secret).
//! Each form is the operation the operator's CLI or the API runs, with the same checks.

use chrono::{DateTime, Utc};
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use maud::{html, Markup};
use smartpit_shared::db::MAX_REMINDER_DAYS;
use smartpit_shared::merchant_contact::MerchantContact;
use smartpit_shared::routes::Matched;
use smartpit_shared::webhook::{Endpoint, Event, EventStatus, UrlPolicy};
use smartpit_shared::Problem;
use smartpit_sheets::page::Lang;

use crate::pages::View;
use crate::{form, href_in, see_other, Area, Console, Part, Route, Signed};

/// The settings' function (`console-settings`): the only one linking the phone number check.
pub struct Settings {
    /// Which webhook URLs may be set (the API's policy: `WEBHOOK_ALLOW_LOOPBACK`).
    url_policy: UrlPolicy,
}

impl Part for Settings {
    const AREA: Area = Area::Settings;

    fn configured(
        _: &aws_config::SdkConfig,
        vars: &smartpit_shared::config::Vars,
    ) -> Result<Self, String> {
        Ok(Settings {
            url_policy: UrlPolicy {
                allow_loopback_http: vars.get("WEBHOOK_ALLOW_LOOPBACK").map(String::as_str)
                    == Some("true"),
            },
        })
    }

    async fn serve<'a>(
        &'a self,
        c: &'a Console,
        req: &'a Request,
        found: &'a Matched<Route>,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let route = found.route;
        let signed = &match c.gate(req, route, lang, now).await? {
            Ok(signed) => signed,
            Err(answer) => return Ok(answer),
        };
        match route {
            Route::Settings => {
                let q = lambda_http::RequestExt::query_string_parameters(req);
                let shown = Shown {
                    test_event: q.first("event"),
                    ..Shown::default()
                };
                self.show(c, signed, lang, shown).await
            }
            _ => self.save(c, req, route, signed, lang, now).await,
        }
    }
}

/// What the page shows.
pub struct SettingsView<'a> {
    pub contact: &'a MerchantContact,
    /// What was typed when the contact form was refused (field, value).
    pub typed: &'a [(String, String)],
    pub reminder_days: u8,
    /// `None` for staff (they see no webhook section).
    pub webhook: Option<WebhookView<'a>>,
    /// What the last form changed.
    pub saved: Option<&'a str>,
    /// What the last form was refused for, field by field.
    pub errors: &'a [(String, String)],
}

pub struct WebhookView<'a> {
    pub endpoint: Option<&'a Endpoint>,
    /// A new secret, shown this once.
    pub secret: Option<&'a str>,
    /// The test event just sent (or asked about), with its delivery.
    pub test_event: Option<&'a Event>,
}

/// The contact form's fields, as `smartpit merchant-contact` names them.
pub const CONTACT_FIELDS: [&str; 4] = ["phone", "url", "email", "hours"];

fn field_label(lang: Lang, field: &str) -> &'static str {
    match field {
        "phone" => lang.pick("電話番号", "Phone"),
        "url" => lang.pick("お問い合わせページ (https)", "Contact page (https)"),
        "email" => lang.pick("メールアドレス", "Mail address"),
        "hours" => lang.pick("受付時間", "Hours"),
        "reminder_days" => lang.pick("リマインド", "Reminder"),
        _ => lang.pick("エンドポイントURL", "Endpoint URL"),
    }
}

fn error_of<'a>(errors: &'a [(String, String)], field: &str) -> Option<&'a String> {
    errors.iter().find(|(f, _)| f == field).map(|(_, m)| m)
}

/// An event's delivery in a few words: its state and the last attempt's answer.
pub fn event_state(lang: Lang, e: &Event) -> String {
    let last = e
        .attempts
        .last()
        .map(|a| match a.status {
            Some(code) => format!(" (HTTP {code})"),
            None => format!(" ({})", a.error.as_deref().unwrap_or_default()),
        })
        .unwrap_or_default();
    let state = match e.status {
        EventStatus::Pending if e.attempts.is_empty() => lang.pick("送信待ち", "waiting"),
        EventStatus::Pending => lang.pick("再送待ち", "retrying"),
        EventStatus::Delivered => lang.pick("配信済み", "delivered"),
        EventStatus::Failed => lang.pick("配信失敗", "failed"),
        EventStatus::Skipped => lang.pick("送信先なし", "skipped"),
    };
    format!("{state}{last}")
}

pub fn page(lang: Lang, csrf: &str, href: impl Fn(&str) -> String, v: &SettingsView) -> Markup {
    let value = |field: &str| -> String {
        if let Some((_, typed)) = v.typed.iter().find(|(f, _)| f == field) {
            return typed.clone();
        }
        match field {
            "phone" => v.contact.phone.clone(),
            "url" => v.contact.url.clone(),
            "email" => v.contact.email.clone(),
            _ => v.contact.hours.clone(),
        }
        .unwrap_or_default()
    };
    let general: Vec<&String> = v
        .errors
        .iter()
        .filter(|(f, _)| {
            !CONTACT_FIELDS.contains(&f.as_str()) && f != "reminder_days" && f != "url"
        })
        .map(|(_, m)| m)
        .collect();
    html! {
        h1 { (lang.pick("設定", "Settings")) }
        @if let Some(m) = v.saved {
            div role="status" { p { (m) } }
        }
        @if !v.errors.is_empty() {
            div role="alert" {
                p { strong { (lang.pick("保存できませんでした。次の項目をご確認ください。", "Not saved: check the fields below.")) } }
                @for m in &general { p { (m) } }
            }
        }
        section aria-labelledby="contact-h" {
            h2 #contact-h { (lang.pick("お客様からの連絡先", "How customers reach you")) }
            p { (lang.pick("払込票、支払いページ、お客様へのメールに表示します。空欄の項目は表示しません。", "Shown on the sheet, the payment page and every customer mail; a blank field is not shown.")) }
            form #contact method="post" action=(href("/console/settings/contact")) {
                input type="hidden" name="csrf" value=(csrf);
                @for field in CONTACT_FIELDS {
                    @let error = error_of(v.errors, field);
                    @let id = format!("c-{field}");
                    p {
                        label for=(id) { (field_label(lang, field)) }
                        " "
                        input id=(id) name=(field) value=(value(field))
                            type=(match field { "email" => "email", "url" => "url", "phone" => "tel", _ => "text" })
                            autocomplete="off"
                            aria-invalid=[error.map(|_| "true")]
                            aria-describedby=[error.map(|_| format!("{id}-error"))];
                        @if let Some(m) = error {
                            " "
                            span id=(format!("{id}-error")) class="error" { (m) }
                        }
                    }
                }
                button type="submit" { (lang.pick("連絡先を保存", "Save the contact")) }
            }
        }
        section aria-labelledby="reminders-h" {
            h2 #reminders-h { (lang.pick("お支払い期限のリマインド", "Reminders before the due date")) }
            form #reminders method="post" action=(href("/console/settings/reminders")) {
                input type="hidden" name="csrf" value=(csrf);
                p {
                    label for="r-days" { (lang.pick("期限の何日前にメールするか", "Days before the due date to mail the customer")) }
                    " "
                    select id="r-days" name="reminder_days" {
                        @for d in 0..=MAX_REMINDER_DAYS {
                            option value=(d) selected[d == v.reminder_days] {
                                @if d == 0 { (lang.pick("送らない", "off")) } @else { (d) (lang.pick("日前", " days")) }
                            }
                        }
                    }
                }
                p { (lang.pick("メールは9時から20時（日本時間）の間に、請求ごとに1回だけ送ります。", "One mail per bill, between 09:00 and 20:00 JST.")) }
                button type="submit" { (lang.pick("リマインドを保存", "Save reminders")) }
            }
        }
        @if let Some(w) = &v.webhook {
            (webhook_section(lang, csrf, &href, w, v.errors))
        }
    }
}

fn webhook_section(
    lang: Lang,
    csrf: &str,
    href: &impl Fn(&str) -> String,
    w: &WebhookView,
    errors: &[(String, String)],
) -> Markup {
    let error = error_of(errors, "url");
    html! {
        section aria-labelledby="webhook-h" {
            h2 #webhook-h { (lang.pick("Webhook（入金などの通知先）", "Webhook (where events are sent)")) }
            @if let Some(secret) = w.secret {
                div role="status" {
                    p { strong { (lang.pick("署名の秘密鍵（この一度だけ表示します）:", "The signing secret (shown this once):")) } }
                    p { code #webhook-secret { (secret) } }
                }
            }
            form #webhook method="post" action=(href("/console/settings/webhook")) {
                input type="hidden" name="csrf" value=(csrf);
                p {
                    label for="w-url" { (field_label(lang, "endpoint")) }
                    " "
                    input id="w-url" name="url" type="url" size="60"
                        value=(w.endpoint.map(|e| e.url.as_str()).unwrap_or_default())
                        aria-invalid=[error.map(|_| "true")]
                        aria-describedby=[error.map(|_| "w-url-error")];
                    @if let Some(m) = error {
                        " "
                        span id="w-url-error" class="error" { (m) }
                    }
                }
                button type="submit" { (lang.pick("通知先を保存", "Save the endpoint")) }
            }
            @if let Some(e) = w.endpoint {
                p {
                    (lang.pick("送る種類: ", "Types sent: "))
                    @if e.events.is_empty() { (lang.pick("すべて", "all")) }
                    @else { (e.events.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")) }
                }
                @if let Some(t) = w.test_event {
                    p #test-event role="status" {
                        (lang.pick("テスト送信 ", "Test event ")) code { (t.id) } ": " (event_state(lang, t))
                        " "
                        a href=(href(&format!("/console/settings?event={}", t.id))) { (lang.pick("最新の状態を見る", "See its state now")) }
                    }
                }
                form #webhook-test method="post" action=(href("/console/settings/webhook/test")) {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { (lang.pick("テスト送信", "Send a test event")) }
                }
                form #webhook-rotate method="post" action=(href("/console/settings/webhook/rotate")) {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { (lang.pick("秘密鍵を作り直す（旧鍵は24時間有効）", "New secret (the old one signs for 24 hours)")) }
                }
                form #webhook-delete method="post" action=(href("/console/settings/webhook/delete")) {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { (lang.pick("通知先を削除", "Remove the endpoint")) }
                }
            }
        }
    }
}

#[derive(Default)]
struct Shown<'a> {
    saved: Option<&'a str>,
    errors: Vec<(String, String)>,
    typed: Vec<(String, String)>,
    secret: Option<String>,
    test_event: Option<&'a str>,
}

impl Settings {
    /// `GET /console/settings`: contact, reminders and (admins) the webhook endpoint, with a
    /// test event's delivery when `?event=` names one of the merchant's.
    async fn show(
        &self,
        c: &Console,
        signed: &Signed,
        lang: Lang,
        shown: Shown<'_>,
    ) -> Result<Response<Body>, Problem> {
        let merchant = &signed.merchant.id;
        let contact = c.db.merchant_contact(merchant).await?;
        let reminder_days = c.db.reminder_days(merchant).await?;
        let admin = signed.session.role == smartpit_shared::console::Role::Admin;
        let endpoint = match admin {
            true => c.db.get_endpoint(merchant).await?,
            false => None,
        };
        let test_event = match shown
            .test_event
            .filter(|id| admin && id.starts_with("evt_"))
        {
            Some(id) => c.db.get_event(merchant, id).await?,
            None => None,
        };
        let status = match shown.errors.is_empty() {
            true => StatusCode::OK,
            false => StatusCode::BAD_REQUEST,
        };
        let view = SettingsView {
            contact: &contact,
            typed: &shown.typed,
            reminder_days,
            webhook: admin.then_some(WebhookView {
                endpoint: endpoint.as_ref(),
                secret: shown.secret.as_deref(),
                test_event: test_event.as_ref(),
            }),
            saved: shown.saved,
            errors: &shown.errors,
        };
        Ok(crate::page(
            status,
            lang,
            Some(signed),
            &View::Settings(&view),
        ))
    }

    /// The settings' forms, each the operation the CLI or the API runs, with its checks.
    #[allow(clippy::too_many_arguments)]
    async fn save(
        &self,
        c: &Console,
        req: &Request,
        route: Route,
        signed: &Signed,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<Response<Body>, Problem> {
        let merchant = &signed.merchant.id;
        let fields = form::fields(req.body().as_ref());
        let given = |name: &str| Some(form::get(&fields, name).trim()).filter(|v| !v.is_empty());
        let mut shown = Shown::default();
        match route {
            Route::SaveContact => {
                match smartpit_shared::merchant_contact::check(
                    given("phone"),
                    given("url"),
                    given("email"),
                    given("hours"),
                ) {
                    Ok(contact) => {
                        c.db.set_merchant_contact(merchant, &contact).await?;
                        tracing::info!(merchant_id = %merchant, "contact details set in the console");
                        shown.saved =
                            Some(lang.pick("連絡先を保存しました。", "The contact is saved."));
                    }
                    Err((field, why)) => {
                        shown.errors.push((field.to_string(), why));
                        shown.typed = CONTACT_FIELDS
                            .iter()
                            .map(|f| (f.to_string(), form::get(&fields, f).to_string()))
                            .collect();
                    }
                }
            }
            Route::SaveReminders => match form::get(&fields, "reminder_days").parse::<u8>() {
                Ok(days) if days <= smartpit_shared::db::MAX_REMINDER_DAYS => {
                    c.db.set_reminder_days(merchant, days).await?;
                    shown.saved =
                        Some(lang.pick("リマインドを保存しました。", "Reminders are saved."));
                }
                _ => shown.errors.push((
                    "reminder_days".into(),
                    format!("must be 0 to {}", smartpit_shared::db::MAX_REMINDER_DAYS),
                )),
            },
            Route::SaveWebhook => match self
                .url_policy
                .admit(form::get(&fields, "url").trim())
                .await
            {
                Ok(url) => {
                    let (_, secret) = c.db.set_endpoint(merchant, url, Vec::new(), now).await?;
                    tracing::info!(merchant_id = %merchant, "webhook endpoint set in the console");
                    shown.secret = secret;
                    shown.saved =
                        Some(lang.pick("通知先を保存しました。", "The endpoint is saved."));
                }
                Err(why) => shown.errors.push(("url".into(), why)),
            },
            Route::RotateWebhook => match c.db.rotate_endpoint_secret(merchant, now).await? {
                Some((_, secret)) => {
                    tracing::info!(merchant_id = %merchant, "webhook secret rotated in the console");
                    shown.secret = Some(secret);
                    shown.saved = Some(lang.pick(
                        "新しい秘密鍵を作りました。以前の鍵も24時間は署名に使われます。",
                        "A new secret is made; the old one also signs for 24 hours.",
                    ));
                }
                None => shown.errors.push((
                    String::new(),
                    lang.pick("通知先がありません。", "There is no endpoint.")
                        .into(),
                )),
            },
            Route::DeleteWebhook => {
                c.db.delete_endpoint(merchant).await?;
                tracing::info!(merchant_id = %merchant, "webhook endpoint removed in the console");
                shown.saved = Some(lang.pick("通知先を削除しました。", "The endpoint is removed."));
            }
            _ => {
                // Route::TestWebhook: the event, then its page (reloading sends nothing twice).
                return match c.db.send_test_event(merchant, now).await? {
                    Some(e) => {
                        tracing::info!(merchant_id = %merchant, event_id = %e.id, "webhook test event from the console");
                        let to = href_in(lang, &format!("/console/settings?event={}", e.id));
                        Ok(see_other(&to, None))
                    }
                    None => {
                        shown.errors.push((
                            String::new(),
                            lang.pick("通知先がありません。", "There is no endpoint.")
                                .into(),
                        ));
                        self.show(c, signed, lang, shown).await
                    }
                };
            }
        }
        self.show(c, signed, lang, shown).await
    }
}
