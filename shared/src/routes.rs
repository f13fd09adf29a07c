//! Each function's routes, declared once: a method and a path pattern per route, in API
//! Gateway's `{name}` syntax, matched by matchit (the router axum is built on). A function
//! declares its table (`routes()`), asks it which route a request is for, and answers 404
//! `route_not_found` or 405 `method_not_allowed` with `Allow` from it. A test in `infra/cli`
//! holds every table equal to the template's routes of that function; the local stack finds the
//! function for a request with the same type, over the template's routes.

use http::Method;

use crate::problem::{Code, Problem};

/// A route table: path patterns, each with the methods it takes and what each one is.
pub struct Routes<R> {
    paths: matchit::Router<usize>,
    /// Per pattern (the index matchit hands back): its pattern and its methods.
    entries: Vec<(String, Vec<(Method, R)>)>,
}

/// The route a request is for, with its path parameters (percent-decoded, as API Gateway hands
/// them to a function).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched<R> {
    pub route: R,
    pub pattern: String,
    params: Vec<(String, String)>,
}

impl<R> Matched<R> {
    /// A parameter of the pattern; every name the pattern declares is present.
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Why a request matched no route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// No pattern matches the path.
    NotFound,
    /// The path exists with these methods only (for `Allow`).
    WrongMethod(Vec<Method>),
}

impl Miss {
    /// 404 `route_not_found`, or 405 `method_not_allowed` with `Allow` (RFC 9110).
    pub fn problem(&self) -> Problem {
        match self {
            Miss::NotFound => Problem::of(Code::RouteNotFound),
            Miss::WrongMethod(allowed) => {
                let allow: Vec<&str> = allowed.iter().map(Method::as_str).collect();
                Problem::of(Code::MethodNotAllowed).header(http::header::ALLOW, &allow.join(", "))
            }
        }
    }
}

impl<R: Clone> Default for Routes<R> {
    fn default() -> Self {
        Routes {
            paths: matchit::Router::new(),
            entries: Vec::new(),
        }
    }
}

impl<R: Clone> Routes<R> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `method pattern`. A pattern matchit refuses, or a method given twice for one
    /// pattern, is an error (a function's table is built once at start and by its tests).
    pub fn try_add(
        &mut self,
        method: Method,
        pattern: &str,
        route: R,
    ) -> Result<(), matchit::InsertError> {
        let index = match self.entries.iter().position(|(p, _)| p == pattern) {
            Some(i) => i,
            None => {
                self.paths.insert(pattern, self.entries.len())?;
                self.entries.push((pattern.to_string(), Vec::new()));
                self.entries.len() - 1
            }
        };
        let methods = &mut self.entries[index].1;
        if methods.iter().any(|(m, _)| *m == method) {
            return Err(matchit::InsertError::Conflict {
                with: format!("{method} {pattern}"),
            });
        }
        methods.push((method, route));
        Ok(())
    }

    /// As `try_add`, for the fixed tables functions declare in code: a mistake there fails
    /// `every_function_routes_what_the_template_routes_to_it` (infra/cli), which builds every
    /// table, long before a deploy.
    #[must_use]
    pub fn add(mut self, method: Method, pattern: &'static str, route: R) -> Self {
        if let Err(e) = self.try_add(method.clone(), pattern, route) {
            panic!("route {method} {pattern}: {e}");
        }
        self
    }

    /// The route for `method` on `path` (the raw path, as on the wire).
    pub fn find(&self, method: &Method, path: &str) -> Result<Matched<R>, Miss> {
        let found = self.paths.at(path).map_err(|_| Miss::NotFound)?;
        let (pattern, methods) = &self.entries[*found.value];
        let mut params = Vec::new();
        for (name, raw) in found.params.iter() {
            // API Gateway decodes path parameters; a segment that is not UTF-8 once decoded
            // names nothing of ours.
            let value = percent_encoding::percent_decode_str(raw)
                .decode_utf8()
                .map_err(|_| Miss::NotFound)?;
            params.push((name.to_string(), value.into_owned()));
        }
        match methods.iter().find(|(m, _)| m == method) {
            Some((_, route)) => Ok(Matched {
                route: route.clone(),
                pattern: pattern.clone(),
                params,
            }),
            None => {
                let mut allowed: Vec<Method> = methods.iter().map(|(m, _)| m.clone()).collect();
                allowed.sort_by(|a, b| a.as_str().cmp(b.as_str()));
                Err(Miss::WrongMethod(allowed))
            }
        }
    }

    /// Every `(METHOD, pattern)` of the table, sorted: what the template must declare.
    pub fn table(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .entries
            .iter()
            .flat_map(|(p, ms)| ms.iter().map(move |(m, _)| (m.to_string(), p.clone())))
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum R {
        List,
        Register,
        Get,
        Cancel,
        Report,
    }

    fn table() -> Routes<R> {
        Routes::new()
            .add(Method::GET, "/v1/invoices", R::List)
            .add(Method::POST, "/v1/invoices", R::Register)
            .add(Method::GET, "/v1/invoices/{id}", R::Get)
            .add(Method::POST, "/v1/invoices/{id}/cancel", R::Cancel)
            .add(Method::GET, "/v1/reports/payments", R::Report)
    }

    #[test]
    fn finds_routes_and_parameters() {
        let t = table();
        let m = t.find(&Method::GET, "/v1/invoices/inv_1").ok();
        assert_eq!(m.as_ref().map(|m| m.route), Some(R::Get));
        assert_eq!(m.as_ref().map(|m| m.param("id")), Some("inv_1"));
        assert_eq!(m.map(|m| m.pattern), Some("/v1/invoices/{id}".to_string()));
        let m = t.find(&Method::POST, "/v1/invoices/inv%5F2/cancel").ok();
        assert_eq!(m.as_ref().map(|m| m.param("id")), Some("inv_2"));
        assert_eq!(
            t.find(&Method::POST, "/v1/invoices").map(|m| m.route),
            Ok(R::Register)
        );
        assert_eq!(
            t.find(&Method::GET, "/v1/reports/payments")
                .map(|m| m.route),
            Ok(R::Report)
        );
    }

    #[test]
    fn misses_say_why() {
        let t = table();
        assert_eq!(
            t.find(&Method::DELETE, "/v1/invoices").err(),
            Some(Miss::WrongMethod(vec![Method::GET, Method::POST]))
        );
        for path in [
            "/v1/invoice",
            "/v1/invoices/a/b",
            "/v1/invoices/inv_1/cancel/x",
            "/",
            "",
            "/v1/invoices/%FF/cancel",
        ] {
            assert_eq!(
                t.find(&Method::GET, path).err(),
                Some(Miss::NotFound),
                "{path}"
            );
        }
        let p = Miss::WrongMethod(vec![Method::GET, Method::POST]).problem();
        let resp = p.into_response();
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()["allow"], "GET, POST");
        assert_eq!(Miss::NotFound.problem().status(), 404);
    }

    #[test]
    fn the_table_lists_every_route_once_and_refuses_a_second() {
        let mut t = table();
        assert_eq!(t.table().len(), 5);
        assert!(t
            .table()
            .contains(&("POST".into(), "/v1/invoices/{id}/cancel".into())));
        assert!(t.try_add(Method::GET, "/v1/invoices", R::List).is_err());
        assert!(t
            .try_add(Method::GET, "/v1/invoices/{other}", R::Get)
            .is_err());
    }
}
