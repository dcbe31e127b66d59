# The two Cloud Run jobs, from the same image as the services, running as runner-ops-sa and
# connecting as the schema owner `clinical_owner` (password from the `db-password` secret)
# through the same Auth Proxy sidecar, without IAM login. Declared like `local.services`: the
# keys `env` and `secrets` and the names inside them stay literal for the Rust test.
#
# - runner-migrate: applies schema/db/ and grants the least-privilege database roles to the
#   services' IAM users (RUNNER_DB_GRANTS). Cloud Build executes it, and waits for it, before
#   every deploy.
# - runner-retention: archives old audit partitions to the audit bucket, then detaches them.
#   Cloud Scheduler runs it daily (modules/scheduler).

locals {
  jobs = {
    migrate = {
      name        = "runner-migrate"
      args        = ["migrate"]
      timeout     = "900s"
      max_retries = 0 # A failed migration is read, not retried blindly.
      env = {
        LOG_FORMAT       = "json"
        DATABASE_URL     = local.owner_database_url
        RUNNER_DB_GRANTS = "clinical_sync=${var.db_users.sync},clinical_push=${var.db_users.push},clinical_writeback=${var.db_users.api}"
      }
      secrets = {
        DATABASE_PASSWORD = "db-password"
      }
    }

    retention = {
      name        = "runner-retention"
      args        = ["retention"]
      timeout     = "3600s"
      max_retries = 1
      env = {
        LOG_FORMAT           = "json"
        DATABASE_URL         = local.owner_database_url
        AUDIT_ARCHIVE_BUCKET = var.audit_bucket
      }
      secrets = {
        DATABASE_PASSWORD = "db-password"
      }
    }
  }
}

resource "google_cloud_run_v2_job" "this" {
  for_each = local.jobs

  project  = var.project_id
  location = var.region
  name     = each.value.name
  labels   = merge(var.labels, { job = each.key })

  template {
    task_count  = 1
    parallelism = 1
    labels      = merge(var.labels, { job = each.key })

    template {
      service_account       = var.service_accounts.ops
      timeout               = each.value.timeout
      max_retries           = each.value.max_retries
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"

      vpc_access {
        egress = "ALL_TRAFFIC"
        network_interfaces {
          network    = var.network_id
          subnetwork = var.subnet_id
        }
      }

      # The runner; first, because Cloud Build replaces its image (`--container runner`).
      containers {
        name       = "runner"
        image      = var.image
        args       = each.value.args
        depends_on = [local.proxy_name]

        resources {
          limits = {
            memory = "512Mi"
            cpu    = "1"
          }
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
      }

      # The Auth Proxy, logging in with nothing of its own: the runner sends the owner's
      # password. When the runner exits, Cloud Run stops the sidecar; --exit-zero-on-sigterm
      # makes that stop a success, so the task's outcome is the runner's.
      containers {
        name  = local.proxy_name
        image = var.proxy_image
        args  = concat(local.proxy_args, ["--exit-zero-on-sigterm", var.sql_connection_name])

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
  }

  lifecycle {
    ignore_changes = [
      template[0].template[0].containers[0].image,
      client,
      client_version,
    ]
  }

  depends_on = [google_secret_manager_secret_iam_member.readers]
}

# Cloud Scheduler starts the retention job through the Cloud Run Admin API (jobs.run), which
# run.invoker on this one job allows.
resource "google_cloud_run_v2_job_iam_member" "retention_scheduler" {
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.this["retention"].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${var.scheduler_email}"
}
