# Operator jobs: the runner's CLI inside the deployment, for the fixes docs/RUNBOOK.md names
# (`runner sync`, `verify`, `replay --failed`, `outbox retry`, `push --all`...). The database
# has no public address, so an operator runs a verb as an execution of one of these jobs, with
# the verb as its arguments:
#
#   gcloud run jobs execute runner-sync-ops --region REGION --wait --container runner \
#     --args=sync,--all
#
# Each job is a copy of one service's container (same account, same database role, same
# environment and secrets), so a verb can do exactly what that service may do: runner-sync-ops
# (drchrono-sync-sa, clinical_sync) for sync, verify, replay, link, review and outbox;
# runner-push-ops (coda-push-sa, clinical_push) for push, coda check and outbox.

locals {
  ops_jobs = {
    sync = { name = "runner-sync-ops" }
    push = { name = "runner-push-ops" }
  }
}

resource "google_cloud_run_v2_job" "ops" {
  for_each = local.ops_jobs

  project  = var.project_id
  location = var.region
  name     = each.value.name
  labels   = merge(var.labels, { job = "${each.key}-ops" })

  template {
    task_count  = 1
    parallelism = 1
    labels      = merge(var.labels, { job = "${each.key}-ops" })

    template {
      service_account       = local.services[each.key].service_account
      max_retries           = 0
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"
      # A first backfill is bounded by DrChrono's request budget and may take hours; it
      # resumes where it stopped, so a run cut at this limit is simply executed again.
      timeout = "86400s"

      vpc_access {
        egress = "ALL_TRAFFIC"
        network_interfaces {
          network    = var.network_id
          subnetwork = var.subnet_id
        }
      }

      containers {
        name = "runner"
        # Without arguments the job prints the runner's usage; every execution names its verb.
        image      = var.image
        args       = ["--help"]
        depends_on = [local.proxy_name]

        resources {
          limits = {
            memory = "512Mi"
            cpu    = "1"
          }
        }

        dynamic "env" {
          for_each = local.services[each.key].env
          content {
            name  = env.key
            value = env.value
          }
        }

        dynamic "env" {
          for_each = local.services[each.key].secrets
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

      containers {
        name  = local.proxy_name
        image = var.proxy_image
        args  = concat(local.proxy_args, ["--auto-iam-authn", "--exit-zero-on-sigterm", var.sql_connection_name])

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

# Operators may execute these jobs with their own arguments, and nothing else.
resource "google_cloud_run_v2_job_iam_member" "operators" {
  for_each = {
    for pair in setproduct(keys(local.ops_jobs), var.operator_members) :
    "${pair[0]} ${pair[1]}" => { job = pair[0], member = pair[1] }
  }

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.ops[each.value.job].name
  role     = "roles/run.jobsExecutorWithOverrides"
  member   = each.value.member
}
