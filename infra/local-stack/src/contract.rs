//! The HTTP contract, `infra/openapi.yaml`: the local stack checks every answer a function gives
//! against it (status documented for the operation, content type offered, JSON body valid
//! against the schema, required headers present), so every end-to-end test also tests the
//! document. An answer outside it becomes a 500 `internal_error` naming the difference.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

/// The document, as served at `/openapi.yaml`.
pub const OPENAPI_YAML: &str = smartpit_invoices::OPENAPI_YAML;

pub struct Contract {
    doc: Value,
    /// Compiled schemas by JSON pointer of the schema in the document.
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

/// What a function answered, as the checker needs it.
pub struct Answer<'a> {
    pub status: u16,
    pub content_type: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
}

impl Contract {
    pub fn load() -> Result<Self, String> {
        let doc: Value = serde_yaml::from_str(OPENAPI_YAML).map_err(|e| e.to_string())?;
        Ok(Contract {
            doc,
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// A document without operations: every answer is outside it.
    pub fn empty() -> Self {
        Contract {
            doc: json!({"paths": {}}),
            validators: Mutex::new(HashMap::new()),
        }
    }

    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// Every (METHOD, path) the document describes.
    pub fn operations(&self) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        if let Some(paths) = self.doc["paths"].as_object() {
            for (path, item) in paths {
                for method in ["get", "put", "post", "delete", "patch"] {
                    if item.get(method).is_some() {
                        out.insert((method.to_uppercase(), path.clone()));
                    }
                }
            }
        }
        out
    }

    /// `Ok` when the answer is one the document allows for this operation.
    pub fn check(&self, method: &str, path: &str, answer: &Answer<'_>) -> Result<(), String> {
        let method = method.to_lowercase();
        let op = self.doc["paths"][path]
            .get(&method)
            .ok_or_else(|| format!("{method} {path} is not in the document"))?;
        let status = answer.status.to_string();
        let (mut response, mut pointer) = match op["responses"].get(&status) {
            Some(r) => (
                r,
                format!("/paths/{}/{method}/responses/{status}", escape(path)),
            ),
            None => return Err(format!("{method} {path} does not document status {status}")),
        };
        if let Some(target) = response.get("$ref").and_then(Value::as_str) {
            pointer = target.trim_start_matches('#').to_string();
            response = self
                .doc
                .pointer(&pointer)
                .ok_or_else(|| format!("dangling {target}"))?;
        }
        if let Some(headers) = response.get("headers").and_then(Value::as_object) {
            for (name, h) in headers {
                let required = h["required"].as_bool().unwrap_or(false);
                if required
                    && !answer
                        .headers
                        .contains_key(name.to_ascii_lowercase().as_str())
                {
                    return Err(format!("status {status} lacks header {name}"));
                }
            }
        }
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            return match answer.body.is_empty() {
                true => Ok(()),
                false => Err(format!("status {status} documents no body, got one")),
            };
        };
        let essence = answer
            .content_type
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let Some(media) = content.get(&essence) else {
            return Err(format!(
                "status {status} answered {essence:?}, documented: {}",
                content.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        };
        if !(essence == "application/json" || essence.ends_with("+json")) {
            return Ok(());
        }
        let body: Value = serde_json::from_slice(answer.body)
            .map_err(|e| format!("status {status} body is not JSON: {e}"))?;
        let schema_pointer = format!("{pointer}/content/{}/schema", escape(&essence));
        let validator = self.validator(&schema_pointer, &media["schema"])?;
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .take(5)
            .map(described)
            .collect();
        match errors.is_empty() {
            true => Ok(()),
            false => Err(format!("status {status} body: {}", errors.join("; "))),
        }
    }

    fn validator(
        &self,
        pointer: &str,
        schema: &Value,
    ) -> Result<Arc<jsonschema::Validator>, String> {
        let mut cache = self.validators.lock().map_err(|e| e.to_string())?;
        if let Some(v) = cache.get(pointer) {
            return Ok(v.clone());
        }
        // The schema at the root of a document that also carries the components, so the
        // `#/components/...` references resolve as they do in the OpenAPI document.
        let mut root = match schema {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        root.insert("components".into(), self.doc["components"].clone());
        root.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&Value::Object(root))
            .map_err(|e| format!("schema at {pointer}: {e}"))?;
        let validator = Arc::new(validator);
        cache.insert(pointer.to_string(), validator.clone());
        Ok(validator)
    }

    /// The problem codes the document allows, by HTTP status.
    pub fn problem_codes(&self) -> BTreeMap<u16, BTreeSet<String>> {
        let mut out = BTreeMap::new();
        let Some(schemas) = self.doc["components"]["schemas"].as_object() else {
            return out;
        };
        for (name, schema) in schemas {
            let Some(status) = name
                .strip_prefix("Problem")
                .and_then(|s| s.parse::<u16>().ok())
            else {
                continue;
            };
            let codes = schema["allOf"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|part| part["properties"]["code"]["enum"].as_array())
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            out.insert(status, codes);
        }
        out
    }
}

/// What failed where, without the offending value: the text is logged and answered, and a
/// value may be a customer's mail address. Member names are the schema's, so `required` and
/// `additionalProperties` keep the validator's words (they name members, not values).
fn described(e: jsonschema::ValidationError<'_>) -> String {
    let keyword = e.kind().keyword().to_string();
    match keyword.as_str() {
        "required" | "additionalProperties" | "unevaluatedProperties" => {
            format!("{e} at {}", e.instance_path())
        }
        _ => format!(
            "{keyword} fails at {} (schema {})",
            e.instance_path(),
            e.schema_path()
        ),
    }
}

/// A JSON pointer segment (RFC 6901).
fn escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// The error codes docs/ERRORS.md lists, by HTTP status (read by `problem::documented_codes`).
pub fn documented_codes() -> BTreeMap<u16, BTreeSet<String>> {
    let mut out: BTreeMap<u16, BTreeSet<String>> = BTreeMap::new();
    for (code, status) in smartpit_shared::problem::documented_codes() {
        out.entry(status).or_default().insert(code);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::repo_root;
    use crate::template::Template;

    fn contract() -> Contract {
        Contract::load().expect("infra/openapi.yaml")
    }

    #[test]
    fn the_document_has_the_templates_routes() {
        let repo = repo_root().expect("repo");
        let t = Template::load(&repo.join("infra/template.yaml")).expect("template");
        let routes: BTreeSet<(String, String)> = t
            .routes
            .iter()
            .map(|r| (r.method.clone(), r.path.clone()))
            .collect();
        assert_eq!(contract().operations(), routes);
    }

    #[test]
    fn every_error_code_is_in_the_document_with_its_status() {
        let mut documented = documented_codes();
        // Answered by the local stack's router, not by a route: no operation lists them.
        let spec = contract().problem_codes();
        documented.retain(|status, _| spec.contains_key(status));
        assert_eq!(spec, documented);
        assert!(spec[&400].contains("invalid_amount") && spec[&503].len() == 2);
    }

    fn answer<'a>(
        status: u16,
        ct: &'a str,
        headers: &'a http::HeaderMap,
        body: &'a [u8],
    ) -> Answer<'a> {
        Answer {
            status,
            content_type: Some(ct),
            headers,
            body,
        }
    }

    #[test]
    fn answers_outside_the_document_are_told_apart() {
        let c = contract();
        let h = http::HeaderMap::new();
        let problem = |status: u16, code: &str| {
            json!({"type": format!("http://x/problems/{code}"), "title": "t", "status": status,
                   "code": code})
            .to_string()
        };
        let ok = problem(404, "invoice_not_found");
        let ct = "application/problem+json";
        assert!(c
            .check(
                "GET",
                "/v1/invoices/{id}",
                &answer(404, ct, &h, ok.as_bytes())
            )
            .is_ok());
        // A code of another status, a status the operation does not answer, a status member
        // overwritten by an extra, another media type, an undocumented route.
        let cases = [
            (
                "GET",
                "/v1/invoices/{id}",
                404,
                ct,
                problem(404, "invoice_not_payable"),
            ),
            (
                "GET",
                "/v1/invoices/{id}",
                422,
                ct,
                problem(422, "amount_mismatch"),
            ),
            (
                "GET",
                "/v1/invoices/{id}",
                409,
                ct,
                problem(409, "invoice_not_payable"),
            ),
            (
                "POST",
                "/store/v1/payments",
                409,
                ct,
                json!({"type": "t", "title": "t", "status": "paid", "code": "invoice_not_payable"})
                    .to_string(),
            ),
            (
                "GET",
                "/v1/invoices/{id}",
                404,
                "text/html",
                problem(404, "invoice_not_found"),
            ),
            (
                "GET",
                "/v1/nothing",
                200,
                "application/json",
                "{}".to_string(),
            ),
        ];
        for (m, p, status, ct, body) in cases {
            let got = c.check(m, p, &answer(status, ct, &h, body.as_bytes()));
            assert!(got.is_err(), "{m} {p} {status} {body} passed");
        }
        // An invoice missing a member, or with one too many.
        let mut inv = json!({"id": "inv_0000000000000000000000000a", "status": "registered"});
        let got = c.check(
            "GET",
            "/v1/invoices/{id}",
            &answer(200, "application/json", &h, inv.to_string().as_bytes()),
        );
        assert!(got.is_err_and(|e| e.contains("required")));
        inv["surprise"] = json!(1);
        assert!(c
            .check(
                "GET",
                "/v1/invoices/{id}",
                &answer(200, "application/json", &h, inv.to_string().as_bytes())
            )
            .is_err());
        // A wrong value is named by where it is, never by what it is (mail addresses).
        let card = json!({"smartpit_number": "hanako@example.jp", "display": "x",
                          "kind": "joint_card", "customer_ref": 42, "batch_id": null,
                          "created_at": null});
        let got = c.check(
            "GET",
            "/v1/joint-cards/{number}",
            &answer(200, "application/json", &h, card.to_string().as_bytes()),
        );
        assert!(
            got.as_ref()
                .is_err_and(|e| e.contains("/smartpit_number") && e.contains("/customer_ref")),
            "{got:?}"
        );
        assert!(got.is_err_and(|e| !e.contains("hanako") && !e.contains("42")));
        // A redirect without its Location.
        assert!(c
            .check("GET", "/s/{token}/sheet.pdf", &answer(302, "", &h, b""))
            .is_err_and(|e| e.contains("Location")));
    }
}
