//! Customer mail addresses: parsed by the `email_address` crate (RFC 5321/5322 address
//! grammar), then held to what SES sends to. No hand-written grammar here.

use email_address::{EmailAddress, Options};

/// SES's and RFC 5321's limit on a whole address.
pub const MAX_ADDRESS_LEN: usize = 254;

/// Why an address is refused, for the field error's message.
pub fn check(s: &str) -> Result<(), &'static str> {
    if s.len() > MAX_ADDRESS_LEN {
        return Err("must be at most 254 characters");
    }
    // SES takes 7-bit ASCII addresses only (a non-ASCII domain must come as punycode), and
    // never MIME encoded words (`=?utf-8?…?=`) in an address.
    if !s.is_ascii() || s.contains("=?") {
        return Err("must be a plain ASCII mail address");
    }
    let options = Options::default()
        .with_required_tld()
        .without_display_text()
        .without_domain_literal();
    let addr = EmailAddress::parse_with_options(s, options)
        .map_err(|_| "must be a mail address such as taro@example.jp")?;
    // The grammar allows quoted local parts ("a b"@x.jp) and comments; SES and mobile carriers
    // do not deliver them reliably, so only dot-atoms are taken.
    if addr.local_part().starts_with('"') || s.contains(['(', ')', '"', '\\', ' ']) {
        return Err("must be a mail address without quotes, spaces or comments");
    }
    if !addr.domain().split('.').all(is_dns_label) {
        return Err("must have a domain of letters, digits and inner hyphens");
    }
    Ok(())
}

/// A host name label: 1 to 63 letters, digits and hyphens, not starting or ending with a hyphen.
fn is_dns_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && !l.starts_with('-')
        && !l.ends_with('-')
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn ordinary_addresses_pass() {
        for ok in [
            "taro@example.jp",
            "taro.yamada+shop@mail.example.co.jp",
            "t_a-ro@docomo.ne.jp",
            "x@xn--wgv71a119e.jp",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn odd_but_plausible_addresses_are_refused() {
        for bad in [
            "a@b@c.jp",
            "a..b@c.jp",
            ".a@c.jp",
            "a.@c.jp",
            "a@c..jp",
            "a@-c.jp",
            "a@c-.jp",
            "a@.c.jp",
            "a@c.jp.",
            "=?utf-8?B?44GC?=@c.jp",
            "a@=?utf-8?q?x?=.jp",
            "\"a b\"@c.jp",
            "a(comment)@c.jp",
            "taro@example",
            "taro example@example.jp",
            "<script>@example.jp",
            "@example.jp",
            "太郎@example.jp",
            "a@[127.0.0.1]",
            "Taro <taro@example.jp>",
            "a@c.jp\r\nBcc: x@y.jp",
        ] {
            assert!(check(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
