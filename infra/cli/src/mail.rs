//! The mail the local emulator's SES has accepted, readable: `smartpit mail`.

use serde_json::Value;

/// Every message the emulator holds, oldest first, each as `{"id", "source", "subject",
/// "destinations": {"ToAddresses"}, "text", "html", "body"}` (`body`: the HTML part, or the
/// text where there is none). Raw messages (moto's `ses.RawMessage`, what the notifier sends)
/// are parsed with the `mail-parser` crate; simple ones (`ses.Message`) carry one body.
pub async fn sent(endpoint: &str) -> Result<Vec<Value>, String> {
    let url = format!("{}/moto-api/data.json", endpoint.trim_end_matches('/'));
    let data: Value = reqwest::get(&url)
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let list = |k: &str| data["ses"][k].as_array().cloned().unwrap_or_default();
    let mut out: Vec<Value> = list("Message");
    out.extend(list("RawMessage").iter().map(from_raw));
    Ok(out)
}

/// A raw message in the shape of a simple one, with both parts.
pub fn from_raw(m: &Value) -> Value {
    let raw = m["raw_data"].as_str().unwrap_or_default();
    let parsed = mail_parser::MessageParser::default().parse(raw.as_bytes());
    // moto lists the request's destinations and then the To header's again: each once.
    let mut to: Vec<Value> = Vec::new();
    let listed = match &m["destinations"] {
        Value::Array(a) => a.clone(),
        other => other["ToAddresses"].as_array().cloned().unwrap_or_default(),
    };
    for a in listed {
        if !to.contains(&a) {
            to.push(a);
        }
    }
    let (subject, text, html) = match &parsed {
        Some(p) => {
            let has_html = p.html_body != p.text_body;
            (
                p.subject().unwrap_or_default().to_string(),
                p.body_text(0).map(|t| t.into_owned()),
                has_html
                    .then(|| p.body_html(0).map(|t| t.into_owned()))
                    .flatten(),
            )
        }
        None => (String::new(), None, None),
    };
    serde_json::json!({
        "id": m["id"],
        "source": m["source"],
        "subject": subject,
        "destinations": {"ToAddresses": to},
        "body": html.clone().or_else(|| text.clone()),
        "text": text,
        "html": html,
        "raw_data": raw,
    })
}

/// Text of an HTML body for a terminal: tags dropped, entities of our own escaping undone.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut tag: Option<String> = None;
    for c in html.chars() {
        match (&mut tag, c) {
            (None, '<') => tag = Some(String::new()),
            (Some(t), '>') => {
                // A link shows its address, so the sheet link can be followed from a terminal.
                if let Some(href) = t.split("href=\"").nth(1).and_then(|h| h.split('"').next()) {
                    out.push('\n');
                    out.push_str(href);
                }
                if !out.ends_with('\n') {
                    out.push('\n');
                }
                tag = None;
            }
            (Some(t), c) => t.push(c),
            (None, c) => out.push(c),
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// One message as a block of text: the text part, then the HTML part read as text.
pub fn render(m: &Value) -> String {
    let to: Vec<&str> = m["destinations"]["ToAddresses"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut parts = Vec::new();
    if let Some(t) = m["text"].as_str() {
        parts.push(format!("[text part]\n{}", t.trim_end()));
    }
    if let Some(h) = m["html"].as_str() {
        parts.push(format!("[HTML part, as text]\n{}", html_to_text(h)));
    }
    if parts.is_empty() {
        let body = m["body"].as_str().unwrap_or_default();
        parts.push(if body.trim_start().starts_with('<') {
            html_to_text(body)
        } else {
            body.trim_end().to_string()
        });
    }
    format!(
        "From:    {}\nTo:      {}\nSubject: {}\n\n{}\n",
        m["source"].as_str().unwrap_or_default(),
        to.join(", "),
        m["subject"].as_str().unwrap_or_default(),
        parts.join("\n\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_bodies_read_as_text() {
        let t = html_to_text(
            "<p>a &lt;b&gt; &amp; c</p><table><tr><th>金額</th><td>¥1</td></tr></table>",
        );
        assert_eq!(t, "a <b> & c\n金額\n¥1");
    }
}
