output "sync_job" {
  description = "The scheduler job that calls /sync/all."
  value       = google_cloud_scheduler_job.sync_all.name
}

output "retention_job" {
  description = "The scheduler job that starts the retention Cloud Run job."
  value       = google_cloud_scheduler_job.retention.name
}
