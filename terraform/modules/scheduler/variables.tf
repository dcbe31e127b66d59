variable "project_id" {
  description = "The GCP project that holds the scheduler jobs."
  type        = string
}

variable "region" {
  description = "The region of the scheduler jobs (and of the retention Cloud Run job)."
  type        = string
}

variable "time_zone" {
  description = "The IANA time zone the schedules are read in (for example America/New_York)."
  type        = string
}

variable "sync_schedule" {
  description = "The cron schedule of the reconciliation (POST /sync/all)."
  type        = string
  default     = "*/15 * * * *"
}

variable "retention_schedule" {
  description = "The cron schedule of the audit retention job."
  type        = string
  default     = "30 3 * * *"
}

variable "sync_url" {
  description = "The sync service's base URL."
  type        = string
}

variable "sync_audience" {
  description = "The audience of the OIDC token sent to /sync/all; the sync service verifies the same value (its OIDC_AUDIENCE)."
  type        = string
}

variable "invoker_email" {
  description = "The service account the scheduler jobs authenticate as (scheduler-invoker-sa)."
  type        = string
}

variable "retention_job_name" {
  description = "The Cloud Run job that the daily retention run starts."
  type        = string
}
