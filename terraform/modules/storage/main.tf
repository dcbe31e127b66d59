# The audit archive: a Cloud Storage bucket whose retention policy keeps every object for seven
# years (the seed's retention for audit logs), and a log sink that copies the audit-relevant
# logs into it. The runner's retention job (`runner retention`, run daily) writes old audit
# partitions (change_log, sync_log, access_log) here before it detaches them.

resource "google_storage_bucket" "audit" {
  #checkov:skip=CKV_GCP_78:Object Versioning cannot be combined with a retention policy on Cloud Storage, and is not needed here: the retention policy already forbids deleting or replacing any object for seven years.
  #checkov:skip=CKV_GCP_62:Access to this bucket is recorded by Cloud Audit Logs (storage.googleapis.com DATA_READ, enabled in modules/iam) and archived by the sink below; usage logs would need a second bucket and add nothing.
  project  = var.project_id
  name     = var.bucket_name
  location = var.location
  labels   = var.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  retention_policy {
    retention_period = var.retention_period_seconds
    # Irreversible once true: the policy can then never be shortened or removed, and the
    # bucket cannot be deleted until its newest object is seven years old.
    is_locked = var.lock_retention
  }

  lifecycle_rule {
    condition {
      age                   = 90
      matches_storage_class = ["STANDARD"]
    }
    action {
      type          = "SetStorageClass"
      storage_class = "COLDLINE"
    }
  }

  lifecycle_rule {
    condition {
      age                   = 365
      matches_storage_class = ["COLDLINE"]
    }
    action {
      type          = "SetStorageClass"
      storage_class = "ARCHIVE"
    }
  }

  # Removed the day after the retention period ends.
  lifecycle_rule {
    condition {
      age = ceil(var.retention_period_seconds / 86400) + 1
    }
    action {
      type = "Delete"
    }
  }
}

# The retention job writes archives and reads them back to verify them; it can neither delete
# nor replace an object (and the retention policy would refuse it anyway).
resource "google_storage_bucket_iam_member" "archivers" {
  for_each = {
    for pair in setproduct(keys(var.archiver_members), ["roles/storage.objectCreator", "roles/storage.objectViewer"]) :
    "${pair[0]} ${pair[1]}" => { member = var.archiver_members[pair[0]], role = pair[1] }
  }

  bucket = google_storage_bucket.audit.name
  member = each.value.member
  role   = each.value.role
}

# Cloud Audit Logs (admin activity, data access, system events, policy denials) and the
# runner's structured operational events (each carries an `event` field; ids and counts only).
resource "google_logging_project_sink" "audit" {
  #checkov:skip=CKV2_GCP_4:The destination bucket's lock is per environment: production locks it (lock_retention = true); staging keeps it unlocked so that its test archive can be deleted.
  project                = var.project_id
  name                   = var.sink_name
  destination            = "storage.googleapis.com/${google_storage_bucket.audit.name}"
  unique_writer_identity = true
  filter                 = "logName:\"cloudaudit.googleapis.com\" OR ((resource.type=\"cloud_run_revision\" OR resource.type=\"cloud_run_job\") AND jsonPayload.event:*)"
}

resource "google_storage_bucket_iam_member" "sink_writer" {
  bucket = google_storage_bucket.audit.name
  role   = "roles/storage.objectCreator"
  member = google_logging_project_sink.audit.writer_identity
}
