//! How a customer reaches the merchant (FAQ Q13, Q14: 「ご請求元へお問い合わせください」): a phone
//! number, a web page, a mail address and the hours, set by the operator
//! (`smartpit merchant-contact`) and shown on the sheet, the payment page and its closed pages,
//! and in every customer mail. A merchant without them shows its name as before.
//!
//! Each field is checked by a maintained parser, not by hand: the phone number by
//! `phonenumber` (libphonenumber's metadata; feature `contact-check`, only where contact is
//! set), the page by `url`, the address as customer addresses are.

/// The most characters of `hours` (a line on the sheet).
pub const HOURS_CHARS: usize = 40;
/// The longest `url` taken (a line on the sheet in small type).
pub const URL_CHARS: usize = 120;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MerchantContact {
    /// As the customer dials it in Japan (`03-1234-5678`).
    pub phone: Option<String>,
    /// An `https` page.
    pub url: Option<String>,
    pub email: Option<String>,
    /// When someone answers, in the merchant's words (`平日 10:00-18:00`).
    pub hours: Option<String>,
}

impl MerchantContact {
    pub fn is_empty(&self) -> bool {
        self.phone.is_none() && self.url.is_none() && self.email.is_none() && self.hours.is_none()
    }

    /// The contact's parts with their Japanese labels, in the order they are shown.
    pub fn labelled(&self) -> Vec<(&'static str, &'static str, &str)> {
        [
            ("電話", "Phone", &self.phone),
            ("Web", "Web", &self.url),
            ("メール", "Mail", &self.email),
            ("受付時間", "Hours", &self.hours),
        ]
        .into_iter()
        .filter_map(|(ja, en, v)| v.as_deref().map(|v| (ja, en, v)))
        .collect()
    }

    /// One line for the sheet and short mails: `電話 03-1234-5678 / https://… / 受付時間 平日…`.
    pub fn one_line(&self) -> String {
        self.labelled()
            .into_iter()
            .map(|(ja, _, v)| match ja {
                "Web" | "メール" => v.to_string(),
                _ => format!("{ja} {v}"),
            })
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

/// What the operator typed, each field checked; the field's name and why when one is refused.
#[cfg(feature = "contact-check")]
pub fn check(
    phone: Option<&str>,
    url: Option<&str>,
    email: Option<&str>,
    hours: Option<&str>,
) -> Result<MerchantContact, (&'static str, String)> {
    let phone = phone
        .map(|p| {
            let n = phonenumber::parse(Some(phonenumber::country::Id::JP), p)
                .map_err(|e| ("phone", format!("is not a phone number: {e}")))?;
            if !phonenumber::is_valid(&n) {
                return Err(("phone", "is not a number that can be dialled".to_string()));
            }
            Ok(n.format().mode(phonenumber::Mode::National).to_string())
        })
        .transpose()?;
    let url = url
        .map(|u| {
            if u.chars().count() > URL_CHARS {
                return Err(("url", format!("must be at most {URL_CHARS} characters")));
            }
            let parsed = url::Url::parse(u).map_err(|e| ("url", format!("is not a URL: {e}")))?;
            if parsed.scheme() != "https" || parsed.host_str().is_none_or(|h| !h.contains('.')) {
                return Err((
                    "url",
                    "must be an https address of a public host".to_string(),
                ));
            }
            if !parsed.username().is_empty() || parsed.password().is_some() {
                return Err(("url", "must not carry a user name or password".to_string()));
            }
            Ok(parsed.to_string())
        })
        .transpose()?;
    if let Some(e) = email {
        crate::mail_address::check(e).map_err(|m| ("email", m.to_string()))?;
    }
    if let Some(h) = hours {
        if h.trim().is_empty() || h.chars().count() > HOURS_CHARS {
            return Err(("hours", format!("must be 1 to {HOURS_CHARS} characters")));
        }
        if let Some(what) = crate::text::hidden_char(h) {
            return Err(("hours", format!("must not contain {what}")));
        }
    }
    Ok(MerchantContact {
        phone,
        url,
        email: email.map(str::to_string),
        hours: hours.map(|h| h.trim().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_in_order() {
        let c = MerchantContact {
            phone: Some("03-1234-5678".into()),
            url: Some("https://shop.example.jp/help".into()),
            email: None,
            hours: Some("平日 10:00-18:00".into()),
        };
        assert_eq!(
            c.one_line(),
            "電話 03-1234-5678 / https://shop.example.jp/help / 受付時間 平日 10:00-18:00"
        );
        assert!(MerchantContact::default().is_empty());
    }

    #[cfg(feature = "contact-check")]
    #[test]
    fn each_field_is_checked_by_its_parser() {
        let ok = check(
            Some("0312345678"),
            Some("https://shop.example.jp/help"),
            Some("help@shop.example.jp"),
            Some("平日 10:00-18:00"),
        )
        .expect("valid");
        assert_eq!(ok.phone.as_deref(), Some("03-1234-5678"));
        assert_eq!(
            check(Some("+81 3-1234-5678"), None, None, None)
                .expect("international form")
                .phone
                .as_deref(),
            Some("03-1234-5678")
        );
        for (phone, url, email, hours, field) in [
            (Some("12345"), None, None, None, "phone"),
            (Some("03-1234-567x"), None, None, None, "phone"),
            (None, Some("http://shop.example.jp"), None, None, "url"),
            (None, Some("javascript:alert(1)"), None, None, "url"),
            (
                None,
                Some("https://user:pw@shop.example.jp"),
                None,
                None,
                "url",
            ),
            (None, Some("https://localhost/"), None, None, "url"),
            (None, None, Some("help@@shop.example.jp"), None, "email"),
            (None, None, None, Some("平日\u{202e}10時"), "hours"),
            (None, None, None, Some(&*"あ".repeat(41)), "hours"),
        ] {
            assert_eq!(
                check(phone, url, email, hours).map_err(|(f, _)| f),
                Err(field),
                "{phone:?} {url:?} {email:?} {hours:?}"
            );
        }
    }
}
