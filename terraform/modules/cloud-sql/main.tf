# The system of record: Cloud SQL for PostgreSQL 15 with a private IP only, backups with
# point-in-time recovery, and IAM database authentication. Every connection comes through the
# Cloud SQL Auth Proxy, which presents a client certificate, so the instance requires one
# (TRUSTED_CLIENT_CERTIFICATE_REQUIRED, stronger than ENCRYPTED_ONLY): a leaked password alone
# opens nothing, even from inside the VPC.
#
# Who connects, and how:
# - The three services connect as their own service accounts (IAM database users, declared
#   below), through the Cloud SQL Auth Proxy sidecar with --auto-iam-authn: no password exists.
#   `runner migrate` grants each of them its least-privilege role (clinical_sync, clinical_push,
#   clinical_writeback).
# - The migration and retention jobs connect as the built-in user `clinical_owner`, which owns
#   the schema. Its password lives only in the Secret Manager secret `db-password`. Terraform
#   never sees it: the user is created once with `gcloud sql users create` (docs/DEPLOY.md), so
#   the password is in neither the configuration nor the state.

resource "google_sql_database_instance" "main" {
  #checkov:skip=CKV_GCP_79:PostgreSQL 15 is the major version CI tests the schema and the runner against (Debian bookworm's); upgrade both together.
  #checkov:skip=CKV2_GCP_13:log_duration writes one log line per statement of a busy sync; Query Insights already records statement latency from normalised queries.
  project             = var.project_id
  name                = var.instance_name
  region              = var.region
  database_version    = "POSTGRES_15"
  deletion_protection = true

  settings {
    tier              = var.tier
    edition           = "ENTERPRISE"
    availability_type = var.availability_type
    disk_type         = "PD_SSD"
    disk_size         = var.disk_size_gb
    disk_autoresize   = true

    user_labels = var.labels

    ip_configuration {
      ipv4_enabled    = false
      private_network = var.network_id
      ssl_mode        = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    }

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = var.backup_start_time
      transaction_log_retention_days = 7

      backup_retention_settings {
        retained_backups = var.retained_backups
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day          = 7
      hour         = var.maintenance_hour_utc
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled = true
      # Query strings are normalised (literals become $1, $2...), but client addresses and
      # application tags add nothing an operator needs.
      record_application_tags = false
      record_client_address   = false
    }

    # IAM database authentication for the services' accounts.
    database_flags {
      name  = "cloudsql.iam_authentication"
      value = "on"
    }
    # pgAudit: audit records of DDL and role changes (pgaudit.log below).
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
    database_flags {
      name  = "pgaudit.log"
      value = "ddl,role"
    }
    # Who connected, and the server's own health.
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_messages"
      value = "warning"
    }
    # A failing statement is logged with its placeholders, not its bound values:
    # log_parameter_max_length_on_error keeps its default, 0.
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    # Schema changes are logged; data statements never are (they could carry patient data), nor
    # their durations (-1): Query Insights measures performance from normalised queries.
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
  }
}

resource "google_sql_database" "main" {
  project  = var.project_id
  instance = google_sql_database_instance.main.name
  name     = var.database_name
}

# One IAM database user per service account. For PostgreSQL the user name is the account's
# email without the `.gserviceaccount.com` suffix.
resource "google_sql_user" "iam" {
  for_each = var.iam_service_accounts

  project  = var.project_id
  instance = google_sql_database_instance.main.name
  name     = trimsuffix(each.value, ".gserviceaccount.com")
  type     = "CLOUD_IAM_SERVICE_ACCOUNT"
}
