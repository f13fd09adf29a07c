//! The mail the local emulator's SES has accepted, readable: `smartpit mail`.

use serde_json::Value;

/// Every message the emulator holds (`ses.Message` of moto's data API), oldest first.
pub async fn sent(endpoint: &str) -> Result<Vec<Value>, String> {
    let url = format!("{}/moto-api/data.json", endpoint.trim_end_matches('/'));
    let data: Value = reqwest::get(&url)
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    Ok(data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default())
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

/// One message as a block of text.
pub fn render(m: &Value) -> String {
    let to: Vec<&str> = m["destinations"]["ToAddresses"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let body = m["body"].as_str().unwrap_or_default();
    let text = if body.trim_start().starts_with('<') {
        html_to_text(body)
    } else {
        body.trim_end().to_string()
    };
    format!(
        "From:    {}\nTo:      {}\nSubject: {}\n\n{}\n",
        m["source"].as_str().unwrap_or_default(),
        to.join(", "),
        m["subject"].as_str().unwrap_or_default(),
        text
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
