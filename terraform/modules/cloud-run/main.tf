# The runner on Cloud Run: one image, one service per role (services.tf) and two jobs
# (jobs.tf). What every workload shares lives here: the database connection through the Cloud
# SQL Auth Proxy sidecar, the deterministic URLs that double as OIDC audiences, and the
# secret-level grants that let each service account read exactly the secrets its containers
# mount.
#
# Database access: each instance runs the Cloud SQL Auth Proxy as a sidecar on
# 127.0.0.1:5432. The proxy opens an encrypted, IAM-authorised connection to the instance's
# private IP, so the runner's own hop is loopback only (sslmode=disable). The services log in
# as their service account (--auto-iam-authn: no password anywhere); the jobs log in as the
# schema owner with the password from the `db-password` secret.
#
# Sizing: an instance above one vCPU must total a whole number, so the proxy gets one vCPU of
# its own beside the runner's one.

locals {
  # The service names, known before the services exist: the load balancer's serverless NEG
  # (modules/edge) names the api service from here, so the api service can take IAP's audience
  # (the admin backend service's id) from that module without a dependency cycle.
  service_names = {
    sync = "drchrono-sync"
    push = "coda-push"
    api  = "clinical-api"
  }

  # Cloud Run's deterministic service URLs. They are known before the services exist, so the
  # Pub/Sub subscription, the scheduler job and the services' own OIDC_AUDIENCE can all use the
  # same string without a dependency cycle.
  urls = {
    sync = "https://drchrono-sync-${var.project_number}.${var.region}.run.app"
    push = "https://coda-push-${var.project_number}.${var.region}.run.app"
    api  = "https://clinical-api-${var.project_number}.${var.region}.run.app"
  }

  # The audience the OIDC tokens of Cloud Scheduler (sync) and Pub/Sub (push) are minted for.
  # The same value is declared as a custom audience of the service and given to the runner
  # (OIDC_AUDIENCE), so a change of the called path never breaks verification.
  audiences = {
    sync = local.urls.sync
    push = local.urls.push
  }

  # IAM database users log in as their service account's email without the
  # `.gserviceaccount.com` suffix; in a URL the `@` is percent-encoded.
  database_urls = {
    for role, user in var.db_users :
    role => "postgres://${replace(user, "@", "%40")}@127.0.0.1:5432/${var.database_name}?sslmode=disable"
  }
  owner_database_url = "postgres://clinical_owner@127.0.0.1:5432/${var.database_name}?sslmode=disable"

  proxy_name = "cloud-sql-proxy"
  proxy_port = 9090
  # Common flags of the sidecar: connect over the private IP, answer health checks on
  # :9090 (/startup, /liveness, /readiness) for the startup probe, log as JSON.
  proxy_args = [
    "--private-ip",
    "--port=5432",
    "--health-check",
    "--http-address=0.0.0.0",
    "--http-port=${local.proxy_port}",
    "--structured-logs",
  ]

  # Which service account reads which secret: exactly the secrets mounted by its containers.
  accounts = {
    sync = var.service_accounts.sync
    push = var.service_accounts.push
    api  = var.service_accounts.api
    ops  = var.service_accounts.ops
  }
  secret_readers = merge(
    merge([
      for role, service in local.services : {
        for secret in values(service.secrets) : "${role} ${secret}" => { account = role, secret = secret }
      }
    ]...),
    merge([
      for job in values(local.jobs) : {
        for secret in values(job.secrets) : "ops ${secret}" => { account = "ops", secret = secret }
      }
    ]...),
  )
}

resource "google_secret_manager_secret_iam_member" "readers" {
  for_each = local.secret_readers

  project   = var.project_id
  secret_id = var.secrets[each.value.secret]
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${local.accounts[each.value.account]}"
}
