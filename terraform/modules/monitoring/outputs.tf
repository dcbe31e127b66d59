output "log_metrics" {
  description = "The Cloud Monitoring metric type of every log-based metric, keyed by metric name."
  value = {
    for metric in [
      google_logging_metric.sync_finished,
      google_logging_metric.sync_duration_ms,
      google_logging_metric.sync_records,
      google_logging_metric.sync_failed,
      google_logging_metric.oauth_refresh_failed,
      google_logging_metric.outbox_dead_letter,
      google_logging_metric.inbox_failed,
      google_logging_metric.webhook_rejected,
      google_logging_metric.coda_rate_limited,
      google_logging_metric.drchrono_rate_limited,
      google_logging_metric.retention_archived,
      google_logging_metric.retention_failed,
    ] : metric.name => "${local.user_metric}/${metric.name}"
  }
}

output "alert_policies" {
  description = "The resource name of each alert policy, keyed by display name."
  value = {
    for policy in [
      google_monitoring_alert_policy.sync_failure,
      google_monitoring_alert_policy.drchrono_auth_error,
      google_monitoring_alert_policy.high_error_rate,
      google_monitoring_alert_policy.no_recent_sync,
      google_monitoring_alert_policy.dlq_depth,
      google_monitoring_alert_policy.database_storage,
    ] : policy.display_name => policy.name
  }
}

output "dashboards" {
  description = "The id of each dashboard, keyed by its file name (sync-health, service-health, database)."
  value       = { for key, dashboard in google_monitoring_dashboard.this : key => dashboard.id }
}
