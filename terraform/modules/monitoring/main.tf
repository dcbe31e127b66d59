# Alerting and dashboards for the runner: the seed's six alert policies (and the Coda reconcile
# failure) and three dashboards.
# The log-based metrics they use are in metrics.tf. Severities map the seed's scale onto Cloud
# Monitoring's: Critical -> CRITICAL, High -> ERROR, Medium -> WARNING. Each policy's
# documentation links its section of docs/RUNBOOK.md.

locals {
  user_metric = "logging.googleapis.com/user"

  # resource.label.service_name=one_of("drchrono-sync","coda-push","clinical-api")
  services_filter = "resource.label.service_name=one_of(${join(",", [for name in var.service_names : "\"${name}\""])})"

  common_labels = { app = "clinical-sync" }
}

resource "google_monitoring_alert_policy" "sync_failure" {
  project               = var.project_id
  display_name          = "Sync Failure"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.notification_channels
  user_labels           = local.common_labels

  conditions {
    display_name = "A pipeline run failed (event sync_failed)"

    condition_threshold {
      filter          = "metric.type=\"${local.user_metric}/${google_logging_metric.sync_failed.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.pipeline"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A pipeline run failed; the log line (`jsonPayload.event=\"sync_failed\"`) gives the pipeline and the reason. Runbook: ${var.runbook_url}#sync-failure"
  }
}

resource "google_monitoring_alert_policy" "drchrono_auth_error" {
  project               = var.project_id
  display_name          = "DrChrono Auth Error"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.notification_channels
  user_labels           = local.common_labels

  conditions {
    display_name = "DrChrono refused a token refresh (event oauth_refresh_failed)"

    condition_threshold {
      filter          = "metric.type=\"${local.user_metric}/${google_logging_metric.oauth_refresh_failed.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.system"]
      }

      trigger {
        count = 1
      }
    }
  }

  conditions {
    display_name = "A rotated refresh token could not be stored (event oauth_token_not_persisted)"

    condition_threshold {
      filter          = "metric.type=\"${local.user_metric}/${google_logging_metric.oauth_token_not_persisted.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.system"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "DrChrono refused the refresh token: every DrChrono call fails until the application is re-authorised. Runbook: ${var.runbook_url}#drchrono-auth-error"
  }
}

resource "google_monitoring_alert_policy" "high_error_rate" {
  project               = var.project_id
  display_name          = "High Error Rate"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels
  user_labels           = local.common_labels

  conditions {
    display_name = "More than 5% of requests answered 5xx over 15 minutes"

    condition_threshold {
      filter             = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND metric.label.response_code_class=\"5xx\" AND ${local.services_filter}"
      denominator_filter = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND ${local.services_filter}"
      comparison         = "COMPARISON_GT"
      threshold_value    = 0.05
      duration           = "0s"

      aggregations {
        alignment_period     = "900s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }

      denominator_aggregations {
        alignment_period     = "900s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "One service answers more than 5% of its requests with a 5xx. Runbook: ${var.runbook_url}#high-error-rate"
  }
}

resource "google_monitoring_alert_policy" "no_recent_sync" {
  project               = var.project_id
  display_name          = "No Recent Sync"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels
  user_labels           = local.common_labels

  conditions {
    display_name = "A pipeline has not finished a run for 30 minutes (no event sync_finished)"

    condition_absent {
      filter   = "metric.type=\"${local.user_metric}/${google_logging_metric.sync_finished.name}\" AND resource.type=\"cloud_run_revision\""
      duration = "1800s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.pipeline"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A pipeline that used to finish every 15 minutes has not finished for 30. Runbook: ${var.runbook_url}#no-recent-sync"
  }
}

resource "google_monitoring_alert_policy" "dlq_depth" {
  project               = var.project_id
  display_name          = "DLQ Depth"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels
  user_labels           = local.common_labels

  conditions {
    display_name = "Change events wait in the Pub/Sub dead-letter subscription"

    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id=\"${var.dead_letter_subscription}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_SUM"
      }

      trigger {
        count = 1
      }
    }
  }

  conditions {
    display_name = "An outbox event was dead-lettered (event outbox_dead_letter)"

    condition_threshold {
      filter          = "metric.type=\"${local.user_metric}/${google_logging_metric.outbox_dead_letter.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.table"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Change events were given up: Coda misses those changes until they are retried. Runbook: ${var.runbook_url}#dlq-depth"
  }
}

resource "google_monitoring_alert_policy" "coda_reconcile_failure" {
  project               = var.project_id
  display_name          = "Coda Reconcile Failure"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels
  user_labels           = local.common_labels

  conditions {
    display_name = "A Coda table could not be reconciled (event coda_reconcile_failed)"

    condition_threshold {
      filter          = "metric.type=\"${local.user_metric}/${google_logging_metric.coda_reconcile_failed.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.mapping"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The daily Coda reconcile could not read or repair a table; staff edits and deletions in Coda stay unrepaired. Runbook: ${var.runbook_url}#coda-drift"
  }
}

resource "google_monitoring_alert_policy" "database_storage" {
  project               = var.project_id
  display_name          = "Database Storage"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels
  user_labels           = local.common_labels

  conditions {
    display_name = "Cloud SQL disk more than 80% full"

    condition_threshold {
      filter          = "metric.type=\"cloudsql.googleapis.com/database/disk/utilization\" AND resource.type=\"cloudsql_database\" AND resource.label.database_id=\"${var.sql_database_id}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0.8
      duration        = "600s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MEAN"
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The database disk is more than 80% full. Runbook: ${var.runbook_url}#database-storage"
  }
}

resource "google_monitoring_dashboard" "this" {
  for_each = toset(["sync-health", "service-health", "database"])

  project = var.project_id
  dashboard_json = templatefile("${path.module}/dashboards/${each.key}.json", {
    user_metric = local.user_metric
    # Embedded inside JSON strings, so its quotes are escaped.
    services_filter          = replace(local.services_filter, "\"", "\\\"")
    dead_letter_subscription = var.dead_letter_subscription
    sql_database_id          = var.sql_database_id
  })
}
