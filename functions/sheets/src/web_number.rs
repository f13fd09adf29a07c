//! A free Smart Pit number from the web site (FAQ Q03, Q07): `GET /get-number` shows what it is
//! and a button; `POST /get-number` issues a web sheet number (kind `sheet`, no merchant, valid
//! through the 60th day counting today, 23:59 JST) and shows it as a printable card: the number,
//! its EAN-13 barcode as the cards carry it, the validity date and how to use it. Any merchant
//! may bill it until it expires (the registration's check). Each client address may take
//! `WEB_NUMBERS_PER_MINUTE` (default 3) a minute; past that, a 429 page until the minute ends.

use chrono::{DateTime, Days, NaiveDate, Utc};
use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use maud::{html, PreEscaped};
use smartpit_shared::clock::{deadline_epoch, jst_date};
use smartpit_shared::db::NumberRecord;
use smartpit_shared::{Db, NumberKind, Problem, SmartPitNumber};

use crate::page::{self, Lang};

/// Numbers one client address may take in a minute when the environment says nothing.
pub const DEFAULT_PER_MINUTE: i64 = 3;

/// Days a web sheet number is valid, counting the day it is issued.
pub const VALID_DAYS: u64 = 60;

/// Draws before giving up (a collision in 10^10 is rare).
const DRAWS: usize = 5;

/// The last day a number issued on `today` may be billed.
pub fn valid_through(today: NaiveDate) -> NaiveDate {
    today
        .checked_add_days(Days::new(VALID_DAYS - 1))
        .unwrap_or(today)
}

/// The limit from the environment's `WEB_NUMBERS_PER_MINUTE`.
pub fn limit_from(var: Option<&str>) -> i64 {
    var.and_then(|v| v.parse().ok())
        .filter(|n: &i64| *n > 0)
        .unwrap_or(DEFAULT_PER_MINUTE)
}

/// `GET /get-number`.
pub fn form(lang: Lang) -> Response<Body> {
    let body = html! {
        h1 { (lang.pick("スマートピット番号を無料で発行", "Get a free Smart Pit number")) }
        p { (lang.pick(
            "スマートピット番号があれば、ネットショップの代金をお近くのコンビニで現金でお支払いいただけます。会員登録や会費は不要です。",
            "With a Smart Pit number you pay online shops in cash at a convenience store near you. No sign-up, no fee."
        )) }
        ul {
            li { (lang.pick("お買い物の際に、この番号をショップへお伝えください。", "Tell the shop this number when you buy.")) }
            li { (lang.pick(
                "Webで発行した番号の有効期限は発行日を含めて60日です。期限を過ぎたら新しい番号を発行してください。",
                "A number from the web is valid for 60 days, counting today. After that, get a new one."
            )) }
            li { (lang.pick(
                "スリーエフ・サークルK・サンクスでは、このページを印刷してレジでご提示ください。",
                "At Three F, Circle K and Sunkus, print the page and show it at the register."
            )) }
        }
        form method="post" action=(with_lang("/get-number", lang)) {
            button type="submit" { (lang.pick("番号を発行する", "Get my number")) }
        }
    };
    page::respond(
        StatusCode::OK,
        page::frame(
            lang,
            lang.pick("スマートピット番号の発行", "Get a Smart Pit number"),
            Some("/get-number"),
            body,
        ),
    )
}

fn with_lang(path: &str, lang: Lang) -> String {
    match lang {
        Lang::Ja => path.to_string(),
        Lang::En => format!("{path}?lang=en"),
    }
}

/// The card page of a number just issued.
pub fn card(lang: Lang, number: SmartPitNumber, until: NaiveDate) -> String {
    let digits = number.to_string();
    let svg = smartpit_shared::sheet::barcode::ean13_modules(&digits)
        .map(|m| smartpit_shared::sheet::barcode::bars_svg(&m, 40, "EAN-13"))
        .unwrap_or_default();
    let body = html! {
        h1 { (lang.pick("あなたのスマートピット番号", "Your Smart Pit number")) }
        section.card {
            p.brand { (lang.pick("スマートピットシート", "Smart Pit sheet")) }
            p.digits { (number.grouped()) }
            div.bars.ean { (PreEscaped(svg)) }
            p.code { (digits) }
            p.valid {
                (lang.pick("有効期限", "Valid through")) " "
                (match lang {
                    Lang::Ja => format!("{} 23:59まで", smartpit_shared::clock::japanese_date(until)),
                    Lang::En => format!("23:59 on {} (Japan time)", page::english_date(until)),
                })
            }
        }
        h2 { (lang.pick("使い方", "How to use it")) }
        ol {
            li { (lang.pick("お買い物の際に、この13桁の番号をショップへお伝えください。", "When you buy, tell the shop this 13-digit number.")) }
            li { (lang.pick(
                "ショップが請求情報を登録すると、コンビニでお支払いいただけます。",
                "Once the shop has registered the bill, you can pay it at a convenience store."
            )) }
            li { (lang.pick(
                "ローソン・ファミリーマート・ミニストップでは店内の端末で番号を入力します。スリーエフ・サークルK・サンクスでは、このページを印刷してレジでご提示ください。",
                "At Lawson, FamilyMart and Ministop, type the number at the kiosk. At Three F, Circle K and Sunkus, print this page and show it at the register."
            )) }
        }
        p.note { (lang.pick(
            "この番号はメモするか、このページを印刷して保管してください。再表示はできません。",
            "Write the number down or print this page: it cannot be shown again."
        )) }
    };
    page::frame(
        lang,
        lang.pick("スマートピット番号", "Smart Pit number"),
        None,
        body,
    )
}

/// The 429 page.
fn too_many(lang: Lang, until: i64, now: DateTime<Utc>) -> Response<Body> {
    let wait = (until - now.timestamp()).max(1);
    tracing::warn!(retry_after = wait, "web number throttled");
    let body = html! {
        section class="banner expired" role="status" {
            h1 { (lang.pick("しばらくお待ちください", "Please wait a moment")) }
            p { (lang.pick(
                "短い時間に多くの番号が発行されました。1分ほどしてから、もう一度お試しください。",
                "Too many numbers were issued from here in a short time. Please try again in a minute."
            )) }
        }
    };
    let mut resp = page::respond(
        StatusCode::TOO_MANY_REQUESTS,
        page::frame(
            lang,
            lang.pick("スマートピット番号の発行", "Get a Smart Pit number"),
            None,
            body,
        ),
    );
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        resp.headers_mut().insert(http::header::RETRY_AFTER, v);
    }
    resp
}

/// `POST /get-number`: two round trips (the address's count, the number). `limit`: numbers
/// an address may take in a minute.
pub async fn issue(
    db: &Db,
    limit: i64,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Response<Body>, Problem> {
    let lang = Lang::of(req);
    let address = smartpit_shared::http::source_ip(req).unwrap_or_else(|| "unknown".into());
    let who = format!("web#{address}");
    if let Some(until) = smartpit_shared::guessing::refused_until(&who, now) {
        return Ok(too_many(lang, until, now));
    }
    if db.count_web_number(&address, now).await? > limit {
        let until = smartpit_shared::guessing::refuse(&who, now);
        return Ok(too_many(lang, until, now));
    }
    let until = valid_through(jst_date(now));
    for _ in 0..DRAWS {
        let number = SmartPitNumber::random(NumberKind::Sheet, &mut rand::rng());
        let rec = NumberRecord {
            expires_at: Some(deadline_epoch(until)),
            ..NumberRecord::new(number, NumberKind::Sheet, now)
        };
        if db.insert_number(&rec).await? {
            // The operator's figure (a metric filter on this line); never the number.
            tracing::info!("web number issued");
            return Ok(page::respond(
                StatusCode::CREATED,
                card(lang, number, until),
            ));
        }
    }
    Err(Problem::internal(&"could not draw a free number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_is_valid_for_sixty_days_counting_today() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap_or_default();
        assert_eq!(
            valid_through(today),
            NaiveDate::from_ymd_opt(2027, 1, 26).unwrap_or_default()
        );
    }

    #[test]
    fn the_card_shows_the_number_its_barcode_and_its_date() {
        let n =
            SmartPitNumber::parse("4901234567894").unwrap_or_else(|_| SmartPitNumber::from_body(0));
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap_or_default();
        let page = card(Lang::Ja, n, valid_through(today));
        assert!(page.contains("4901 2345 67894"));
        assert!(page.contains("2027年1月26日 23:59まで"));
        assert!(page.contains("<svg"));
    }
}
