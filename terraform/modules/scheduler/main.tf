# Cloud Scheduler: the reconciliation every 15 minutes (POST /sync/all on the sync service,
# with an OIDC token the runner verifies) and the daily audit retention (the runner-retention
# Cloud Run job, started through the Cloud Run Admin API with an OAuth token).

resource "google_cloud_scheduler_job" "sync_all" {
  project     = var.project_id
  region      = var.region
  name        = "sync-all"
  description = "Reconciles every pipeline with DrChrono (POST /sync/all)."
  schedule    = var.sync_schedule
  time_zone   = var.time_zone
  # Longer than the sync service's request timeout (300 s), so Cloud Scheduler never gives up
  # on a run that Cloud Run would still let finish.
  attempt_deadline = "320s"

  retry_config {
    retry_count          = 1
    min_backoff_duration = "30s"
    max_backoff_duration = "120s"
  }

  http_target {
    http_method = "POST"
    uri         = "${var.sync_url}/sync/all"

    oidc_token {
      service_account_email = var.invoker_email
      audience              = var.sync_audience
    }
  }
}

resource "google_cloud_scheduler_job" "retention" {
  project     = var.project_id
  region      = var.region
  name        = "audit-retention"
  description = "Runs the runner-retention job: archives old audit partitions to Cloud Storage."
  schedule    = var.retention_schedule
  time_zone   = var.time_zone
  # jobs.run only starts an execution and returns; the job reports its own outcome.
  attempt_deadline = "60s"

  retry_config {
    retry_count          = 3
    min_backoff_duration = "60s"
    max_backoff_duration = "600s"
  }

  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}/jobs/${var.retention_job_name}:run"

    oauth_token {
      service_account_email = var.invoker_email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }
}
