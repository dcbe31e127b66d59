variable "project_id" {
  description = "The GCP project that holds the metrics, alert policies and dashboards."
  type        = string
}

variable "notification_channels" {
  description = "The notification channel ids (projects/P/notificationChannels/N) every alert policy notifies. Channels (email, SMS, PagerDuty) are created per environment, outside this module."
  type        = list(string)
}

variable "service_names" {
  description = "The Cloud Run services the High Error Rate alert and the Service Health dashboard watch."
  type        = list(string)
}

variable "dead_letter_subscription" {
  description = "The Pub/Sub dead-letter subscription whose backlog the DLQ Depth alert watches."
  type        = string
}

variable "sql_database_id" {
  description = "The Cloud SQL instance as Cloud Monitoring names it (PROJECT:INSTANCE)."
  type        = string
}

variable "runbook_url" {
  description = "Where docs/RUNBOOK.md can be read; each alert's documentation links a section of it (#sync-failure, #dlq-depth...)."
  type        = string
  default     = "docs/RUNBOOK.md"
}
