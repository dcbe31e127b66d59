//! Rendering: the minijinja templates and the stylesheet embedded in the binary, the HTML error
//! page ([`HtmlError`], the dashboard's face of [`ApiError`]), the response headers of every
//! page (no caching, no referrer, a strict content security policy), and the small formatting
//! helpers the pages share (times in UTC, ages, keyset cursors).

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use minijinja::Environment;
use serde::Serialize;

use crate::server::ApiError;

/// The stylesheet, served at `/admin/static/admin.css`.
pub(super) const STYLESHEET: &str = include_str!("templates/admin.css");

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let files: [(&str, &str); 8] = [
        ("layout.html", include_str!("templates/layout.html")),
        ("error.html", include_str!("templates/error.html")),
        ("health.html", include_str!("templates/health.html")),
        ("failures.html", include_str!("templates/failures.html")),
        ("review.html", include_str!("templates/review.html")),
        ("audit.html", include_str!("templates/audit.html")),
        ("record.html", include_str!("templates/record.html")),
        ("access.html", include_str!("templates/access.html")),
    ];
    for (name, text) in files {
        env.add_template(name, text)
            .unwrap_or_else(|e| panic!("template {name} does not compile: {e}"));
    }
    env
});

/// A serializable value for a template context.
pub(super) fn ser<T: Serialize>(value: &T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(value))
}

/// Renders `template` with `ctx`. `.html` templates escape every value.
pub(super) fn render(template: &str, ctx: minijinja::Value) -> Result<Html<String>, HtmlError> {
    TEMPLATES
        .get_template(template)
        .and_then(|t| t.render(ctx))
        .map(Html)
        .map_err(|e| {
            tracing::error!(template, error = %e, "Template failed.");
            HtmlError::from(ApiError::Internal)
        })
}

/// What every page's layout needs: who is signed in, which pages they see, which is current.
#[derive(Debug, Serialize)]
pub(super) struct Chrome {
    /// The staff member's email.
    pub email: String,
    /// Their role.
    pub role: super::StaffRole,
    /// Whether they may act (forms are shown).
    pub acts: bool,
    /// The current page's nav key.
    pub current: &'static str,
    /// Nav entries `(key, href, label)` of the pages the role sees.
    pub nav: Vec<(&'static str, &'static str, &'static str)>,
    /// The single-use form token (admins only).
    pub csrf: Option<String>,
    /// A one-line confirmation of the last action (a fixed text chosen by code).
    pub flash: Option<&'static str>,
}

impl Chrome {
    /// The chrome of page `current` for `staff`.
    pub(super) fn new(staff: &super::Staff, current: &'static str) -> Self {
        use super::Page;
        let pages = [
            ("health", "/admin", "Sync health", Page::Health),
            ("failures", "/admin/failures", "Failures", Page::Failures),
            ("review", "/admin/review", "Review queue", Page::Review),
            ("audit", "/admin/audit", "Audit trail", Page::Audit),
            ("access", "/admin/access", "Access log", Page::Access),
        ];
        Chrome {
            email: staff.email.clone(),
            role: staff.role,
            acts: staff.role.acts(),
            current,
            nav: pages
                .into_iter()
                .filter(|p| staff.role.sees(p.3))
                .map(|p| (p.0, p.1, p.2))
                .collect(),
            csrf: None,
            flash: None,
        }
    }
}

/// An [`ApiError`] answered as an HTML page with the same status and short reason (and
/// `Retry-After` on a 503). It carries no value of any record.
#[derive(Debug)]
pub struct HtmlError(pub ApiError);

impl From<ApiError> for HtmlError {
    fn from(e: ApiError) -> Self {
        HtmlError(e)
    }
}

impl From<crate::store::StoreError> for HtmlError {
    fn from(e: crate::store::StoreError) -> Self {
        HtmlError(ApiError::from_store("admin page", &e))
    }
}

impl IntoResponse for HtmlError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let (title, detail) = match &self.0 {
            ApiError::Unauthorized => (
                "Not signed in",
                "This page is reached through the clinic's Identity-Aware Proxy; the request \
                 carried no valid sign-in. Open the dashboard from its usual address."
                    .to_string(),
            ),
            ApiError::Forbidden(r) => ("Not allowed", format!("Not allowed: {r}.")),
            ApiError::NotFound => ("Not found", "No such page or record.".to_string()),
            ApiError::Unprocessable(r) | ApiError::BadRequest(r) => {
                ("Cannot do that", format!("{r}."))
            }
            ApiError::UnsupportedMediaType => (
                "Cannot do that",
                "The form was not sent as a form.".to_string(),
            ),
            ApiError::Unavailable => (
                "Database unavailable",
                "The database (or the sign-in keys) did not answer. Nothing was changed. Try \
                 again in a minute; if it persists, follow the runbook's database section."
                    .to_string(),
            ),
            ApiError::Internal => (
                "Something went wrong",
                "An internal error; it was logged. Nothing was shown.".to_string(),
            ),
        };
        let ctx = minijinja::context! { status => status.as_u16(), title, detail };
        let body = TEMPLATES
            .get_template("error.html")
            .and_then(|t| t.render(ctx))
            .unwrap_or_else(|_| format!("{} {title}", status.as_u16()));
        let mut res = (status, Html(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        }
        res
    }
}

/// Adds the headers every dashboard response carries: pages hold patient data, so nothing is
/// cached or sent on as a referrer, and only our own stylesheet and forms are allowed.
pub(super) async fn page_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    res
}

/// `2026-03-05 14:07:09 UTC`.
pub(super) fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `5 s`, `12 min`, `3 h 4 min`, `2 d 5 h`.
pub(super) fn age(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86400, (s % 86400) / 3600),
    }
}

/// A keyset cursor `(at, id)` as it appears in a `before=` parameter: `<microseconds>_<id>`.
pub(super) fn cursor(at: DateTime<Utc>, id: i64) -> String {
    format!("{}_{id}", at.timestamp_micros())
}

/// Parses a [`cursor`]; a malformed one is a 422.
pub(super) fn parse_cursor(s: &str) -> Result<(DateTime<Utc>, i64), HtmlError> {
    let bad = || HtmlError::from(ApiError::unprocessable("malformed page cursor"));
    let (micros, id) = s.split_once('_').ok_or_else(bad)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles_and_escapes_what_it_is_given() {
        assert!(TEMPLATES.templates().count() >= 8);
        let html = render(
            "error.html",
            minijinja::context! { status => 422, title => "t", detail => "<script>x</script>" },
        )
        .unwrap()
        .0;
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>x"));
    }

    #[test]
    fn ages_and_cursors_read_well_and_round_trip() {
        assert_eq!(age(42), "42 s");
        assert_eq!(age(125), "2 min");
        assert_eq!(age(3 * 3600 + 240), "3 h 4 min");
        assert_eq!(age(2 * 86400 + 5 * 3600), "2 d 5 h");
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        assert_eq!(parse_cursor(&cursor(at, 42)).unwrap(), (at, 42));
        assert!(parse_cursor("x_1").is_err() && parse_cursor("12").is_err());
    }
}
