# Log-based metrics on the runner's operational events: the `event` field of its JSON log
# lines (runner/src/telemetry/events.rs; docs/OPERATIONS.md lists every event and its fields).
# Each metric counts one event, or measures one numeric field of it, and is
# logging.googleapis.com/user/runner/NAME in Cloud Monitoring.
#
# One literal resource per metric, so that each `filter` is a plain string: a Rust test reads
# these filters and checks that every event the runner emits has a metric and that every
# metric names a real event. Labels come from low-cardinality fields only (pipeline, trigger,
# source, table, system, operation); never from `reason`, ids or anything a record contains.

resource "google_logging_metric" "sync_finished" {
  project     = var.project_id
  name        = "runner/sync_finished"
  description = "Pipeline runs that succeeded."
  filter      = "jsonPayload.event=\"sync_finished\" AND (resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "pipeline"
      value_type  = "STRING"
      description = "The pipeline (synced table)."
    }

    labels {
      key         = "trigger"
      value_type  = "STRING"
      description = "What started the run."
    }
  }

  label_extractors = {
    pipeline = "EXTRACT(jsonPayload.pipeline)"
    trigger  = "EXTRACT(jsonPayload.trigger)"
  }
}

resource "google_logging_metric" "sync_duration_ms" {
  project         = var.project_id
  name            = "runner/sync_duration_ms"
  description     = "How long each successful pipeline run took, in milliseconds."
  filter          = "jsonPayload.event=\"sync_finished\" AND (resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\")"
  value_extractor = "EXTRACT(jsonPayload.duration_ms)"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "ms"

    labels {
      key         = "pipeline"
      value_type  = "STRING"
      description = "The pipeline (synced table)."
    }
  }

  label_extractors = {
    pipeline = "EXTRACT(jsonPayload.pipeline)"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 32
      growth_factor      = 2
      scale              = 1
    }
  }
}

resource "google_logging_metric" "sync_records" {
  project         = var.project_id
  name            = "runner/sync_records"
  description     = "How many source records each successful pipeline run read."
  filter          = "jsonPayload.event=\"sync_finished\" AND (resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\")"
  value_extractor = "EXTRACT(jsonPayload.records)"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "1"

    labels {
      key         = "pipeline"
      value_type  = "STRING"
      description = "The pipeline (synced table)."
    }
  }

  label_extractors = {
    pipeline = "EXTRACT(jsonPayload.pipeline)"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 32
      growth_factor      = 2
      scale              = 1
    }
  }
}

resource "google_logging_metric" "sync_failed" {
  project     = var.project_id
  name        = "runner/sync_failed"
  description = "Pipeline runs that failed (the reason is in the log line, never in a label)."
  filter      = "jsonPayload.event=\"sync_failed\" AND (resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "pipeline"
      value_type  = "STRING"
      description = "The pipeline (synced table)."
    }

    labels {
      key         = "trigger"
      value_type  = "STRING"
      description = "What started the run."
    }
  }

  label_extractors = {
    pipeline = "EXTRACT(jsonPayload.pipeline)"
    trigger  = "EXTRACT(jsonPayload.trigger)"
  }
}

resource "google_logging_metric" "oauth_refresh_failed" {
  project     = var.project_id
  name        = "runner/oauth_refresh_failed"
  description = "Token refreshes that DrChrono refused: re-authorisation is needed."
  filter      = "jsonPayload.event=\"oauth_refresh_failed\" AND (resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "system"
      value_type  = "STRING"
      description = "The external system whose token refresh failed."
    }
  }

  label_extractors = {
    system = "EXTRACT(jsonPayload.system)"
  }
}

resource "google_logging_metric" "outbox_dead_letter" {
  project     = var.project_id
  name        = "runner/outbox_dead_letter"
  description = "Outbox change events given up and moved to the dead letters."
  filter      = "jsonPayload.event=\"outbox_dead_letter\" AND (resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "table"
      value_type  = "STRING"
      description = "The table of the changed record."
    }
  }

  label_extractors = {
    table = "EXTRACT(jsonPayload.table)"
  }
}

resource "google_logging_metric" "inbox_failed" {
  project     = var.project_id
  name        = "runner/inbox_failed"
  description = "Stored webhooks that could not be written; they wait in the inbox for runner replay."
  filter      = "jsonPayload.event=\"inbox_failed\" AND (resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "source"
      value_type  = "STRING"
      description = "The inbound source (DrChrono, Deep Cura, an inbound route)."
    }
  }

  label_extractors = {
    source = "EXTRACT(jsonPayload.source)"
  }
}

resource "google_logging_metric" "webhook_rejected" {
  project     = var.project_id
  name        = "runner/webhook_rejected"
  description = "Inbound deliveries refused before anything was stored (bad signature, secret or payload)."
  filter      = "jsonPayload.event=\"webhook_rejected\" AND (resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "source"
      value_type  = "STRING"
      description = "The inbound source (DrChrono, Deep Cura, an inbound route)."
    }
  }

  label_extractors = {
    source = "EXTRACT(jsonPayload.source)"
  }
}

resource "google_logging_metric" "coda_rate_limited" {
  project     = var.project_id
  name        = "runner/coda_rate_limited"
  description = "Coda API calls answered 429."
  filter      = "jsonPayload.event=\"coda_rate_limited\" AND (resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "operation"
      value_type  = "STRING"
      description = "The HTTP method of the refused call."
    }
  }

  label_extractors = {
    operation = "EXTRACT(jsonPayload.operation)"
  }
}

resource "google_logging_metric" "coda_table_refused" {
  project     = var.project_id
  name        = "runner/coda_table_refused"
  description = "Coda refused a whole table (a mapped column deleted or calculated, the table gone): run runner coda check."
  filter      = "jsonPayload.event=\"coda_table_refused\" AND (resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "table"
      value_type  = "STRING"
      description = "The Coda table id."
    }
  }

  label_extractors = {
    table = "EXTRACT(jsonPayload.table)"
  }
}

resource "google_logging_metric" "drchrono_rate_limited" {
  project     = var.project_id
  name        = "runner/drchrono_rate_limited"
  description = "DrChrono API calls answered 429."
  filter      = "jsonPayload.event=\"drchrono_rate_limited\" AND (resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "pipeline"
      value_type  = "STRING"
      description = "The pipeline that made the call."
    }
  }

  label_extractors = {
    pipeline = "EXTRACT(jsonPayload.pipeline)"
  }
}

resource "google_logging_metric" "retention_archived" {
  project     = var.project_id
  name        = "runner/retention_archived"
  description = "Audit partitions archived to Cloud Storage and detached."
  filter      = "jsonPayload.event=\"retention_archived\" AND (resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "table"
      value_type  = "STRING"
      description = "The audit table (change_log, sync_log, access_log)."
    }
  }

  label_extractors = {
    table = "EXTRACT(jsonPayload.table)"
  }
}

resource "google_logging_metric" "retention_failed" {
  project     = var.project_id
  name        = "runner/retention_failed"
  description = "Retention steps that failed; nothing was detached or dropped."
  filter      = "jsonPayload.event=\"retention_failed\" AND (resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "table"
      value_type  = "STRING"
      description = "The audit table (change_log, sync_log, access_log)."
    }
  }

  label_extractors = {
    table = "EXTRACT(jsonPayload.table)"
  }
}

resource "google_logging_metric" "record_quarantined" {
  project     = var.project_id
  name        = "runner/record_quarantined"
  description = "Source records PostgreSQL refused or that fail mapping; they wait in the quarantine for runner replay --quarantine."
  filter      = "jsonPayload.event=\"record_quarantined\" AND (resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "pipeline"
      value_type  = "STRING"
      description = "The pipeline whose record was quarantined."
    }
  }

  label_extractors = {
    pipeline = "EXTRACT(jsonPayload.pipeline)"
  }
}

resource "google_logging_metric" "rate_budget_wait" {
  project     = var.project_id
  name        = "runner/rate_budget_wait"
  description = "Calls that wait 10 s or more for a rate budget shared by every instance (DrChrono's 500 per hour, Coda's writes)."
  filter      = "jsonPayload.event=\"rate_budget_wait\" AND (resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "system"
      value_type  = "STRING"
      description = "The budget: drchrono, coda_write or coda_read."
    }
  }

  label_extractors = {
    system = "EXTRACT(jsonPayload.system)"
  }
}

resource "google_logging_metric" "oauth_token_not_persisted" {
  project     = var.project_id
  name        = "runner/oauth_token_not_persisted"
  description = "Refresh tokens DrChrono rotated that could not be stored: re-authorisation will be needed."
  filter      = "jsonPayload.event=\"oauth_token_not_persisted\" AND (resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "system"
      value_type  = "STRING"
      description = "The OAuth system (drchrono)."
    }
  }

  label_extractors = {
    system = "EXTRACT(jsonPayload.system)"
  }
}

resource "google_logging_metric" "admin_action" {
  project     = var.project_id
  name        = "runner/admin_action"
  description = "Actions staff took from the admin dashboard (replay, retry, run, link, dismiss)."
  filter      = "jsonPayload.event=\"admin_action\" AND resource.type=\"cloud_run_revision\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "action"
      value_type  = "STRING"
      description = "The action: replay, retry, run, link or dismiss."
    }
  }

  label_extractors = {
    action = "EXTRACT(jsonPayload.action)"
  }
}

resource "google_logging_metric" "admin_refused" {
  project     = var.project_id
  name        = "runner/admin_refused"
  description = "Admin dashboard requests refused: no valid IAP assertion (a request around IAP), a bad form token, or a signed-in user who is not active staff."
  filter      = "jsonPayload.event=\"admin_refused\" AND resource.type=\"cloud_run_revision\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "status"
      value_type  = "STRING"
      description = "The answer: 401, 403 or 503."
    }
  }

  label_extractors = {
    status = "EXTRACT(jsonPayload.status)"
  }
}

resource "google_logging_metric" "coda_reconciled" {
  project     = var.project_id
  name        = "runner/coda_reconciled"
  description = "Coda tables reconciled with PostgreSQL (runner coda reconcile and its daily run); drift counts are in the log line."
  filter      = "jsonPayload.event=\"coda_reconciled\" AND (resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "mapping"
      value_type  = "STRING"
      description = "The Coda mapping (mappings/<name>.yaml)."
    }

    labels {
      key         = "trigger"
      value_type  = "STRING"
      description = "What started the run: cli or schedule."
    }
  }

  label_extractors = {
    mapping = "EXTRACT(jsonPayload.mapping)"
    trigger = "EXTRACT(jsonPayload.trigger)"
  }
}

resource "google_logging_metric" "coda_reconcile_failed" {
  project     = var.project_id
  name        = "runner/coda_reconcile_failed"
  description = "Coda tables that could not be reconciled (Coda unreachable or refusing the token, a table missing, a repair that kept failing)."
  filter      = "jsonPayload.event=\"coda_reconcile_failed\" AND (resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "mapping"
      value_type  = "STRING"
      description = "The Coda mapping (mappings/<name>.yaml)."
    }
  }

  label_extractors = {
    mapping = "EXTRACT(jsonPayload.mapping)"
  }
}
