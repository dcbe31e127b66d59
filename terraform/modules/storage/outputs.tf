output "bucket_name" {
  description = "The audit archive bucket (the retention job's AUDIT_ARCHIVE_BUCKET)."
  value       = google_storage_bucket.audit.name
}

output "bucket_url" {
  description = "The bucket's gs:// URL."
  value       = google_storage_bucket.audit.url
}

output "sink_writer_identity" {
  description = "The identity the log sink writes as."
  value       = google_logging_project_sink.audit.writer_identity
}
