# One Cloud Run service per role of the runner (`runner serve --role ROLE`), all from the same
# image. A Rust test reads `local.services` statically (hcl-rs): the keys `role`, `env` and
# `secrets`, and the names inside `env` and `secrets`, must stay literal; values may be
# expressions. `secrets` maps an environment variable to a Secret Manager secret id.

locals {
  services = {
    # Webhooks from DrChrono and Deep Cura, scheduled reconciliation (/sync/*, OIDC), change
    # events to Pub/Sub. Always-on CPU: /sync/* may answer 202 and finish in the background,
    # which CPU throttling outside requests would starve; one warm instance keeps webhook
    # latency low.
    sync = {
      name            = local.service_names.sync
      role            = "sync"
      service_account = var.service_accounts.sync
      min_instances   = var.min_instances.sync
      max_instances   = var.max_instances.sync
      timeout         = "300s"
      memory          = "512Mi"
      cpu_idle        = false
      ingress         = "INGRESS_TRAFFIC_ALL"
      env = {
        LOG_FORMAT           = "json"
        GOOGLE_CLOUD_PROJECT = var.project_id
        DATABASE_URL         = local.database_urls.sync
        DRCHRONO_BASE_URL    = var.drchrono_base_url
        PUBSUB_PROJECT_ID    = var.project_id
        PUBSUB_TOPIC         = var.change_events_topic
        OIDC_AUDIENCE        = local.audiences.sync
        OIDC_ALLOWED_EMAILS  = var.scheduler_email
        # Cloud Scheduler calls /sync/all; an embedded scheduler in every instance would spend
        # the DrChrono budget again.
        RUNNER_NO_SCHEDULER = "true"
      }
      secrets = {
        DRCHRONO_CLIENT_ID      = "drchrono-client-id"
        DRCHRONO_CLIENT_SECRET  = "drchrono-client-secret"
        DRCHRONO_REFRESH_TOKEN  = "drchrono-refresh-token"
        DRCHRONO_WEBHOOK_SECRET = "drchrono-webhook-secret"
        DEEPCURA_SHARED_SECRET  = "deepcura-shared-secret"
        INBOUND_SECRET          = "inbound-secret"
        TOKEN_ENCRYPTION_KEY    = "token-encryption-key"
      }
    }

    # Receives change events pushed by Pub/Sub (OIDC, pubsub-push-sa) and writes Coda.
    # Always-on CPU: a delivery is acknowledged once its event is durable (the outbox row), and
    # the role's outbox worker pushes to Coda after the answer, which CPU throttling outside
    # requests would starve.
    push = {
      name            = local.service_names.push
      role            = "push"
      service_account = var.service_accounts.push
      min_instances   = var.min_instances.push
      max_instances   = var.max_instances.push
      timeout         = "60s"
      memory          = "256Mi"
      cpu_idle        = false
      ingress         = "INGRESS_TRAFFIC_INTERNAL_ONLY"
      env = {
        LOG_FORMAT           = "json"
        GOOGLE_CLOUD_PROJECT = var.project_id
        DATABASE_URL         = local.database_urls.push
        CODA_BASE_URL        = var.coda_base_url
        CODA_DOC_ID          = var.coda_doc_id
        OIDC_AUDIENCE        = local.audiences.push
        OIDC_ALLOWED_EMAILS  = var.pubsub_push_email
      }
      secrets = {
        CODA_API_TOKEN = "coda-api-token"
      }
    }

    # The write-back API (/api/*, Coda automations with a shared secret) and the admin
    # dashboard (/admin, staff through IAP). Reachable only through the HTTPS load balancer
    # (modules/edge), never on its run.app URL.
    api = {
      name            = local.service_names.api
      role            = "api"
      service_account = var.service_accounts.api
      min_instances   = var.min_instances.api
      max_instances   = var.max_instances.api
      timeout         = "60s"
      memory          = "512Mi"
      cpu_idle        = true
      ingress         = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
      env = {
        LOG_FORMAT           = "json"
        GOOGLE_CLOUD_PROJECT = var.project_id
        DATABASE_URL         = local.database_urls.api
        # The admin backend's audience: the runner verifies IAP's signed header against it.
        IAP_AUDIENCE = var.iap_audience
      }
      secrets = {
        CODA_WRITEBACK_SECRET = "coda-writeback-secret"
      }
    }
  }
}

resource "google_cloud_run_v2_service" "this" {
  for_each = local.services

  project          = var.project_id
  location         = var.region
  name             = each.value.name
  ingress          = each.value.ingress
  custom_audiences = contains(keys(local.audiences), each.key) ? [local.audiences[each.key]] : []
  labels           = merge(var.labels, { role = each.value.role })

  template {
    service_account       = each.value.service_account
    timeout               = each.value.timeout
    execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
    labels                = merge(var.labels, { role = each.value.role })

    scaling {
      min_instance_count = each.value.min_instances
      max_instance_count = each.value.max_instances
    }

    # Direct VPC egress for everything: Cloud SQL's private IP through the subnet, and
    # DrChrono and Coda through Cloud NAT's fixed address.
    vpc_access {
      egress = "ALL_TRAFFIC"
      network_interfaces {
        network    = var.network_id
        subnetwork = var.subnet_id
      }
    }

    # The runner. It must stay the first container: Cloud Build replaces its image on every
    # deploy (`--container runner`), and the lifecycle block below ignores exactly that.
    containers {
      name       = "runner"
      image      = var.image
      args       = ["serve", "--role", each.value.role]
      depends_on = [local.proxy_name]

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          memory = each.value.memory
          cpu    = "1"
        }
        cpu_idle          = each.value.cpu_idle
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = each.value.env
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = each.value.secrets
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value
              version = "latest"
            }
          }
        }
      }

      # The provider has no readiness probe for Cloud Run, so the instance takes traffic once
      # /ready answers (configuration loaded, database reachable); /health then keeps watch.
      startup_probe {
        period_seconds    = 5
        timeout_seconds   = 3
        failure_threshold = 24
        http_get {
          path = "/ready"
          port = 8080
        }
      }

      liveness_probe {
        period_seconds    = 30
        timeout_seconds   = 5
        failure_threshold = 3
        http_get {
          path = "/health"
          port = 8080
        }
      }
    }

    # The Cloud SQL Auth Proxy. Its image runs as a non-root user; on SIGTERM it keeps serving
    # open connections for up to 10 s while the runner drains its in-flight requests.
    containers {
      name  = local.proxy_name
      image = var.proxy_image
      args  = concat(local.proxy_args, ["--auto-iam-authn", "--max-sigterm-delay=10s", var.sql_connection_name])

      resources {
        limits = {
          memory = "256Mi"
          cpu    = "1"
        }
      }

      startup_probe {
        period_seconds    = 1
        timeout_seconds   = 1
        failure_threshold = 30
        http_get {
          path = "/startup"
          port = local.proxy_port
        }
      }
    }
  }

  lifecycle {
    # Cloud Build owns the runner's image after the first apply (var.image is only the
    # bootstrap image), and gcloud records itself as the client.
    ignore_changes = [
      template[0].containers[0].image,
      client,
      client_version,
    ]
  }

  depends_on = [google_secret_manager_secret_iam_member.readers]
}

# DrChrono and Deep Cura cannot send Google credentials, and Coda's write-back calls reach the
# api service through the load balancer without them: both services admit unauthenticated
# requests at the Cloud Run layer, and the runner authenticates every route itself (webhook
# signature, shared secrets compared in constant time, Google OIDC on /sync/*, IAP's signed
# header on /admin). The api service's ingress admits only the load balancer.
resource "google_cloud_run_v2_service_iam_member" "public" {
  for_each = toset(["sync", "api"])

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.this[each.value].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Identified callers. Cloud Scheduler keeps its own grant on the sync service so that /sync/*
# keeps working if the public grant above is ever withdrawn; Pub/Sub's push identity is the
# only invoker of the push service.
resource "google_cloud_run_v2_service_iam_member" "invokers" {
  for_each = {
    "sync scheduler"   = { service = "sync", email = var.scheduler_email }
    "push pubsub-push" = { service = "push", email = var.pubsub_push_email }
  }

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.this[each.value.service].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${each.value.email}"
}
