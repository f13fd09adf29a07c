//! Serves the template's routes on a local port as API Gateway's HTTP API does: each request
//! matched to its route, turned into the payload format 2.0 event (`crate::apigw`) and handed to
//! the route's function process (`crate::runtime`); each answer checked against the contract.

use smartpit_shared::Code;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::Body;
use smartpit_shared::Problem;
use tokio::net::TcpListener;

use crate::runtime::Functions;
use smartpit_shared::routes::Routes;

use crate::template::Template;

/// API Gateway's HTTP API refuses larger payloads before any function runs.
const GATEWAY_MAX_BODY: usize = 10 * 1024 * 1024;

pub struct Router {
    template: Template,
    /// The template's routes, matched as API Gateway does (to their index in `template.routes`).
    api: Routes<usize>,
    functions: Functions,
    contract: crate::contract::Contract,
}

impl Router {
    pub fn new(template: Template, functions: Functions) -> Self {
        // Built into the binary and tested, so it always loads; an empty document would refuse
        // every answer, which no test would miss.
        let contract = crate::contract::Contract::load().unwrap_or_else(|e| {
            tracing::error!(error = %e, "infra/openapi.yaml does not load");
            crate::contract::Contract::empty()
        });
        // Checked by the template's tests; a table that does not build serves nothing, loudly.
        let api = template.api_routes().unwrap_or_else(|e| {
            tracing::error!(error = %e, "the template's routes do not build a router");
            Routes::new()
        });
        Router {
            api,
            template,
            functions,
            contract,
        }
    }

    async fn dispatch(
        &self,
        req: hyper::Request<Incoming>,
        peer: std::net::SocketAddr,
    ) -> hyper::Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let bytes = match Limited::new(body, GATEWAY_MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return to_hyper(Problem::of(Code::PayloadTooLarge).into_response()),
        };
        let path = parts.uri.path().to_string();
        let (route, params) = match self.api.find(&parts.method, &path) {
            Ok(found) => {
                let params: HashMap<String, String> = found
                    .params()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect();
                (&self.template.routes[found.route], params)
            }
            // API Gateway's own answers: 404, or 405 with `Allow` (RFC 9110).
            Err(miss) => return to_hyper(miss.problem().into_response()),
        };
        let event = crate::apigw::event(&crate::apigw::Incoming {
            parts: &parts,
            body: &bytes,
            route_key: format!("{} {}", route.method, route.path),
            path_parameters: &params,
            peer,
        });
        // The function's own process, through the Runtime API; the AWS calls it made, in
        // order, come back for the tests' round-trip counts.
        let invoked = self
            .functions
            .invoke(&route.function, event.to_string().into_bytes())
            .await;
        let mut resp = match invoked.result.map(|answer| crate::apigw::response(&answer)) {
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) => {
                self.functions
                    .note(&route.function, &format!("integration failed: {e}"));
                crate::apigw::internal_error()
            }
            // Logged by the runtime.
            Err(_) => crate::apigw::internal_error(),
        };
        let body = resp.body().clone().into_inner().unwrap_or_default();
        if let Err(e) = self.contract.check(
            route.method.as_str(),
            &route.path,
            &crate::contract::Answer {
                status: resp.status().as_u16(),
                content_type: resp
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok()),
                headers: resp.headers(),
                body: &body,
            },
        ) {
            // A function answered outside infra/openapi.yaml: a bug, loud in every test.
            tracing::error!(route = %route.path, method = %route.method, violation = %e, "answer outside the contract");
            resp = to_hyper(
                Problem::of(Code::InternalError)
                    .detail(format!("The answer is outside infra/openapi.yaml: {e}"))
                    .into_response(),
            );
        }
        if let Ok(v) = hyper::header::HeaderValue::from_str(&invoked.calls.join(",")) {
            resp.headers_mut().insert("x-local-aws-calls", v);
        }
        resp
    }
}

fn to_hyper(resp: lambda_http::Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = resp.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// Accepts connections until the task is dropped.
pub async fn serve(listener: TcpListener, router: Arc<Router>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let router = router.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let router = router.clone();
                async move { Ok::<_, Infallible>(router.dispatch(req, peer).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::template::Template;

    /// One route table per function, written once in its crate: each equals what the template
    /// routes to that function, and every function the template routes to has one.
    #[test]
    fn every_function_routes_what_the_template_routes_to_it() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
        let t = Template::load(&path).expect("template");
        let tables = [
            ("InvoicesFunction", smartpit_invoices::routes().table()),
            ("NumbersFunction", smartpit_numbers::routes().table()),
            ("StoreFunction", smartpit_store::routes().table()),
            ("SandboxFunction", smartpit_sandbox::routes().table()),
            ("SheetsFunction", smartpit_sheets::routes().table()),
            (
                "WebhookApiFunction",
                smartpit_webhooks::api::routes().table(),
            ),
            (
                "PayoutsApiFunction",
                smartpit_payouts::api::routes().table(),
            ),
            (
                "PayoutSandboxFunction",
                smartpit_payouts::sandbox::routes().table(),
            ),
            ("RefundPageFunction", smartpit_refunds::routes().table()),
            (
                "ConsoleFunction",
                smartpit_console::routes(smartpit_console::Area::Bills).table(),
            ),
            (
                "ConsoleSettingsFunction",
                smartpit_console::routes(smartpit_console::Area::Settings).table(),
            ),
            (
                "ConsolePayoutsFunction",
                smartpit_console::routes(smartpit_console::Area::Payouts).table(),
            ),
            (
                "RefundSandboxFunction",
                smartpit_refunds::sandbox::routes().table(),
            ),
        ];
        for (function, table) in &tables {
            let mut templated: Vec<(String, String)> = t
                .routes
                .iter()
                .filter(|r| r.function == *function)
                .map(|r| (r.method.clone(), r.path.clone()))
                .collect();
            templated.sort();
            assert_eq!(table, &templated, "{function}");
        }
        for r in &t.routes {
            assert!(
                tables.iter().any(|(f, _)| *f == r.function),
                "{} {} goes to {}, which has no route table here",
                r.method,
                r.path,
                r.function
            );
        }
        assert!(t.api_routes().is_ok());
    }
}
