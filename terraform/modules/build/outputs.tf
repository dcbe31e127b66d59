output "repository_url" {
  description = "The image path prefix: REGION-docker.pkg.dev/PROJECT/REPOSITORY."
  value       = "${google_artifact_registry_repository.images.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "runner_image" {
  description = "The runner image name without a tag; Cloud Build tags it with the commit (runner:SHORT_SHA)."
  value       = "${google_artifact_registry_repository.images.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}/runner"
}

output "source_bucket" {
  description = "The bucket for `gcloud builds submit --gcs-source-staging-dir gs://BUCKET/source`."
  value       = google_storage_bucket.sources.name
}
