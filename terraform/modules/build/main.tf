# What a deploy is built from and into: the Docker repository of the runner image, and the
# bucket `gcloud builds submit` uploads the source to. The Cloud Build deployer
# (cloudbuild-deployer-sa) may push to the one and read the other, nothing more.
#
# Cloud Build pushes one tag per commit (runner:SHORT_SHA). Tags are immutable, so a tag
# always names the image that was tested and deployed, and a rollback to it is exact.

resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:Google-managed encryption at rest, as the seed's HIPAA safeguards table specifies; the image holds code and config, no patient data, and a customer-managed key would add key administration without meeting a stated requirement.
  project       = var.project_id
  location      = var.region
  repository_id = var.repository_id
  description   = "The clinical-sync runner image."
  format        = "DOCKER"
  labels        = var.labels

  docker_config {
    immutable_tags = true
  }

  # Untagged images (layers of superseded pushes) go after two weeks; tagged releases stay.
  cleanup_policies {
    id     = "delete-untagged"
    action = "DELETE"

    condition {
      tag_state  = "UNTAGGED"
      older_than = "1209600s"
    }
  }
}

resource "google_artifact_registry_repository_iam_member" "deployer" {
  project    = var.project_id
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = var.deployer_member
}

# Source archives of `gcloud builds submit --gcs-source-staging-dir gs://BUCKET/source`: the
# repository's code and config only, deleted after a week.
resource "google_storage_bucket" "sources" {
  #checkov:skip=CKV_GCP_78:A week-long staging area for source archives that Cloud Build reads once; every archive can be uploaded again from git, so old versions have nothing to protect.
  #checkov:skip=CKV_GCP_62:Reads are recorded by Cloud Audit Logs (Data Access logs for Cloud Storage are on project-wide, modules/iam); usage logs would need another bucket and add nothing.
  project  = var.project_id
  name     = "${var.project_id}-build-sources"
  location = var.region
  labels   = var.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  lifecycle_rule {
    condition {
      age = 7
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket_iam_member" "deployer_reads_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = var.deployer_member
}
