//! Who is asking, and what they may do: the signed-in staff member of every `/admin` request.
//!
//! Identity comes from IAP's signed header ([`super::iap`]), or, on a loopback listener only,
//! from `runner serve --admin-dev-user EMAIL`, which stands in for IAP. Authorisation comes
//! from `staff_roles`: the email must be an active row, and its role must see the page
//! ([`StaffRole::sees`]); only admins act ([`StaffRole::acts`]). The [`Staff`] extractor runs
//! before a handler reads anything else, so a refused request never reaches the body.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::iap::{IAP_ISSUER, IAP_JWKS_URL, IapConfig, IapError, IapVerifier};
use super::view::HtmlError;
use crate::app::AppState;
use crate::server::ApiError;
use crate::store::StoreError;

/// How the dashboard learns who is asking. The default admits nobody.
#[derive(Debug, Clone, Default)]
pub struct AdminAuth {
    iap: Option<Arc<IapVerifier>>,
    dev_user: Option<String>,
}

impl AdminAuth {
    /// Identity from IAP's signed header.
    pub fn iap(verifier: IapVerifier) -> Self {
        AdminAuth {
            iap: Some(Arc::new(verifier)),
            dev_user: None,
        }
    }

    /// Every request is `email` (local use on a loopback listener; see [`AdminArgs::auth`]).
    pub fn dev_user(email: &str) -> Self {
        AdminAuth {
            iap: None,
            dev_user: Some(email.trim().to_ascii_lowercase()),
        }
    }

    /// The email of the request's staff member.
    async fn email(&self, parts: &Parts) -> Result<String, ApiError> {
        if let Some(email) = &self.dev_user {
            return Ok(email.clone());
        }
        let Some(iap) = &self.iap else {
            refused(parts, "authentication not configured", 401);
            return Err(ApiError::Unauthorized);
        };
        iap.email(&parts.headers).await.map_err(|e| {
            let unavailable = matches!(e, IapError::KeysUnavailable);
            refused(parts, &e.to_string(), if unavailable { 503 } else { 401 });
            if unavailable {
                ApiError::Unavailable
            } else {
                ApiError::Unauthorized
            }
        })
    }
}

fn refused(parts: &Parts, reason: &str, status: u16) {
    tracing::warn!(
        event = crate::telemetry::events::ADMIN_REFUSED,
        path = %parts.uri.path(),
        reason,
        status,
        "Admin request refused."
    );
}

/// `runner serve`'s dashboard settings: IAP's audience (and, for tests, its keys and issuer),
/// or a local stand-in for IAP.
#[derive(Debug, Clone, clap::Args)]
pub struct AdminArgs {
    /// The `aud` of IAP's signed header on the admin backend
    /// (`/projects/NUMBER/global/backendServices/ID`; Terraform's `iap_audience` output).
    /// Without it (and without `--admin-dev-user`) every `/admin` request is refused.
    #[arg(long = "iap-audience", env = "IAP_AUDIENCE", default_value = "")]
    pub iap_audience: String,
    /// IAP's public keys (JWK set).
    #[arg(long = "iap-jwks-url", env = "IAP_JWKS_URL", default_value = IAP_JWKS_URL)]
    pub iap_jwks_url: String,
    /// The `iss` of IAP's assertions.
    #[arg(long = "iap-issuer", env = "IAP_ISSUER", default_value = IAP_ISSUER)]
    pub iap_issuer: String,
    /// Local use only: every `/admin` request is this staff member (who must still be an active
    /// `staff_roles` row). Refused unless the server listens on a loopback address.
    #[arg(long = "admin-dev-user", value_name = "EMAIL")]
    pub dev_user: Option<String>,
}

/// Why the dashboard settings were refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminArgsError {
    /// `--admin-dev-user` on an address other machines can reach.
    #[error(
        "--admin-dev-user is refused on {0}: it admits anyone who can connect, so it needs a loopback listener (127.0.0.1 or ::1) and no PORT"
    )]
    NotLoopback(SocketAddr),
    /// An empty or malformed email.
    #[error("--admin-dev-user needs an email address")]
    BadEmail,
}

impl AdminArgs {
    /// The identity source for a server listening on `addr`.
    pub fn auth(&self, addr: SocketAddr) -> Result<AdminAuth, AdminArgsError> {
        if let Some(email) = &self.dev_user {
            if !addr.ip().is_loopback() {
                return Err(AdminArgsError::NotLoopback(addr));
            }
            if !email.contains('@') || email.trim().len() < 3 {
                return Err(AdminArgsError::BadEmail);
            }
            tracing::warn!(%addr, "Admin dashboard: a local dev user stands in for IAP.");
            return Ok(AdminAuth::dev_user(email));
        }
        let config = IapConfig {
            jwks_url: self.iap_jwks_url.clone(),
            issuer: self.iap_issuer.clone(),
            ..IapConfig::new(self.iap_audience.clone())
        };
        match IapVerifier::new(config) {
            Some(v) => Ok(AdminAuth::iap(v)),
            None => {
                tracing::info!("IAP_AUDIENCE not set: /admin refuses every request.");
                Ok(AdminAuth::default())
            }
        }
    }
}

/// A role of `staff_roles.role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// Sees every page and acts.
    Admin,
    /// Sees health, failures and the review queue.
    Clinician,
    /// Sees health and failures.
    FrontDesk,
    /// Sees health and failures.
    Billing,
    /// Read-only oversight: sees every page, acts on nothing.
    Viewer,
}

/// A page group of the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// Sync health (the landing page).
    Health,
    /// Failed inbox entries, dead letters, failed runs.
    Failures,
    /// The linking review queue.
    Review,
    /// The audit trail, record histories and the disclosure report.
    Audit,
    /// Outbound API calls and dashboard views.
    Access,
}

impl Page {
    /// The page group's name (`access_log.page`).
    pub fn name(self) -> &'static str {
        match self {
            Page::Health => "health",
            Page::Failures => "failures",
            Page::Review => "review",
            Page::Audit => "audit",
            Page::Access => "access",
        }
    }
}

impl StaffRole {
    /// The role named in `staff_roles.role`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "admin" => StaffRole::Admin,
            "clinician" => StaffRole::Clinician,
            "front_desk" => StaffRole::FrontDesk,
            "billing" => StaffRole::Billing,
            "viewer" => StaffRole::Viewer,
            _ => return None,
        })
    }

    /// Whether this role may see `page`. Pages that show patient data (the review queue, the
    /// audit trail) and who viewed it (the access log) are for the roles that need them.
    pub fn sees(self, page: Page) -> bool {
        use StaffRole::{Admin, Clinician, Viewer};
        match page {
            Page::Health | Page::Failures => true,
            Page::Review => matches!(self, Admin | Clinician | Viewer),
            Page::Audit | Page::Access => matches!(self, Admin | Viewer),
        }
    }

    /// Whether this role may act (replay, retry, run, link, dismiss): admins only.
    pub fn acts(self) -> bool {
        self == StaffRole::Admin
    }
}

/// The signed-in staff member of a request.
#[derive(Debug, Clone)]
pub struct Staff {
    /// Lower-cased email.
    pub email: String,
    /// Their role.
    pub role: StaffRole,
}

impl Staff {
    /// Refuses (403) unless the role sees `page`.
    pub fn may_see(&self, page: Page) -> Result<(), HtmlError> {
        if self.role.sees(page) {
            Ok(())
        } else {
            Err(ApiError::forbidden("your role does not include this page").into())
        }
    }

    /// Refuses (403) unless the role sees `page` and acts.
    pub fn may_act(&self, page: Page) -> Result<(), HtmlError> {
        self.may_see(page)?;
        if self.role.acts() {
            Ok(())
        } else {
            Err(ApiError::forbidden("only admins may do this").into())
        }
    }

    /// The audit actor of this staff member's writes: `admin:<email>`.
    pub fn actor(&self) -> String {
        format!("admin:{}", self.email)
    }
}

/// The active role of `email`, if any.
pub async fn staff_role(pool: &sqlx::PgPool, email: &str) -> Result<Option<StaffRole>, StoreError> {
    let role: Option<String> =
        sqlx::query_scalar("select role from staff_roles where email = $1 and active")
            .bind(email)
            .fetch_optional(pool)
            .await
            .map_err(|e| StoreError::from_sqlx("staff role", e))?;
    Ok(role.as_deref().and_then(StaffRole::parse))
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = HtmlError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HtmlError> {
        let email = state.admin.email(parts).await?;
        match staff_role(&state.pool, &email).await? {
            Some(role) => Ok(Staff { email, role }),
            None => {
                refused(parts, "not an active staff member", 403);
                Err(ApiError::forbidden("you are not an active staff member").into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_roles_see_and_only_admins_act() {
        let all = [
            StaffRole::Admin,
            StaffRole::Clinician,
            StaffRole::FrontDesk,
            StaffRole::Billing,
            StaffRole::Viewer,
        ];
        for r in all {
            assert!(r.sees(Page::Health) && r.sees(Page::Failures));
            assert_eq!(r.acts(), r == StaffRole::Admin);
        }
        assert!(!StaffRole::FrontDesk.sees(Page::Review));
        assert!(!StaffRole::Clinician.sees(Page::Audit));
        assert!(StaffRole::Viewer.sees(Page::Access));
        assert_eq!(StaffRole::parse("front_desk"), Some(StaffRole::FrontDesk));
        assert_eq!(StaffRole::parse("root"), None);
    }

    #[test]
    fn a_dev_user_needs_a_loopback_listener() {
        let args = AdminArgs {
            iap_audience: String::new(),
            iap_jwks_url: IAP_JWKS_URL.into(),
            iap_issuer: IAP_ISSUER.into(),
            dev_user: Some("Oncall@Clinic.example".into()),
        };
        assert!(args.auth("127.0.0.1:8080".parse().unwrap()).is_ok());
        assert!(args.auth("[::1]:8080".parse().unwrap()).is_ok());
        assert!(matches!(
            args.auth("0.0.0.0:8080".parse().unwrap()),
            Err(AdminArgsError::NotLoopback(_))
        ));
        assert!(matches!(
            args.auth("10.0.0.5:8080".parse().unwrap()),
            Err(AdminArgsError::NotLoopback(_))
        ));
    }
}
