# The public front of the api service: a global external HTTPS load balancer for
# `var.api_domain` with a Google-managed certificate and a serverless NEG in front of the
# clinical-api Cloud Run service (whose ingress admits only load balancers, so its run.app URL
# cannot bypass this).
#
# Two backend services over the same NEG, chosen by path:
# - /api/*: Coda automations' write-back calls. No IAP (Coda cannot sign in); the runner
#   checks X-Coda-Webhook-Secret in constant time.
# - /admin, /admin/* and every other path: IAP. Only the staff named in var.iap_members get
#   through, and the runner verifies IAP's signed header (x-goog-iap-jwt-assertion, audience
#   = output iap_audience) on every admin request.
# IAP uses Google's managed OAuth client here, which admits users of the clinic's own Google
# Workspace organisation.

resource "google_compute_global_address" "api" {
  project = var.project_id
  name    = "${var.name}-ip"
}

resource "google_compute_managed_ssl_certificate" "api" {
  project = var.project_id
  name    = "${var.name}-cert"

  managed {
    domains = [var.api_domain]
  }
}

resource "google_compute_region_network_endpoint_group" "api" {
  project               = var.project_id
  name                  = "${var.name}-neg"
  region                = var.region
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    service = var.cloud_run_service
  }
}

locals {
  backends = {
    # Staff: IAP in front.
    admin = { iap = true }
    # Coda automations: the shared secret, checked by the runner.
    writeback = { iap = false }
  }
}

resource "google_compute_backend_service" "this" {
  for_each = local.backends

  project               = var.project_id
  name                  = "${var.name}-${each.key}"
  protocol              = "HTTPS"
  load_balancing_scheme = "EXTERNAL_MANAGED"

  backend {
    group = google_compute_region_network_endpoint_group.api.id
  }

  log_config {
    enable      = true
    sample_rate = 1.0
  }

  iap {
    enabled = each.value.iap
  }
}

resource "google_compute_url_map" "api" {
  project = var.project_id
  name    = "${var.name}-urls"
  # Anything not matched below is an admin path: unknown paths fail closed behind IAP.
  default_service = google_compute_backend_service.this["admin"].id

  host_rule {
    hosts        = [var.api_domain]
    path_matcher = "api"
  }

  path_matcher {
    name            = "api"
    default_service = google_compute_backend_service.this["admin"].id

    path_rule {
      paths   = ["/api/*"]
      service = google_compute_backend_service.this["writeback"].id
    }

    path_rule {
      paths   = ["/admin", "/admin/*"]
      service = google_compute_backend_service.this["admin"].id
    }
  }
}

resource "google_compute_ssl_policy" "api" {
  project         = var.project_id
  name            = "${var.name}-tls"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"
}

resource "google_compute_target_https_proxy" "api" {
  project          = var.project_id
  name             = "${var.name}-https"
  url_map          = google_compute_url_map.api.id
  ssl_certificates = [google_compute_managed_ssl_certificate.api.id]
  ssl_policy       = google_compute_ssl_policy.api.id
}

# HTTPS only: there is no port-80 listener to redirect from.
resource "google_compute_global_forwarding_rule" "api" {
  project               = var.project_id
  name                  = "${var.name}-https"
  target                = google_compute_target_https_proxy.api.id
  ip_address            = google_compute_global_address.api.id
  port_range            = "443"
  load_balancing_scheme = "EXTERNAL_MANAGED"
}

# Staff access to the admin surface, and nothing else.
resource "google_iap_web_backend_service_iam_member" "staff" {
  for_each = toset(var.iap_members)

  project             = var.project_id
  web_backend_service = google_compute_backend_service.this["admin"].name
  role                = "roles/iap.httpsResourceAccessor"
  member              = each.value
}
