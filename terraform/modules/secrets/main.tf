# The Secret Manager secrets of the deployment: the containers only. Terraform creates no
# versions and holds no values; each value is added out of band with
# `gcloud secrets versions add` (docs/DEPLOY.md), so no secret reaches the configuration or
# the Terraform state. Who may read which secret is decided per secret, next to the Cloud Run
# service or job that mounts it (modules/cloud-run).
#
# `drchrono-access-token` from the seed is deliberately absent: the runner keeps the
# short-lived DrChrono access token, and the refresh token that DrChrono rotates on every
# refresh, in its database (table oauth_credentials), updated in the same transaction that uses
# them. `drchrono-refresh-token` only seeds that row (and re-seeds it after a manual
# re-authorisation).
#
# Encryption at rest is Google-managed, as the seed's HIPAA safeguards table specifies; a
# customer-managed key would add key administration without meeting a stated requirement.

locals {
  secret_ids = [
    "db-password",
    "drchrono-client-id",
    "drchrono-client-secret",
    "drchrono-refresh-token",
    "drchrono-webhook-secret",
    "deepcura-shared-secret",
    "coda-api-token",
    "coda-writeback-secret",
    "token-encryption-key",
    "inbound-secret",
  ]
}

resource "google_secret_manager_secret" "this" {
  for_each = toset(local.secret_ids)

  project   = var.project_id
  secret_id = each.value
  labels    = var.labels

  replication {
    user_managed {
      dynamic "replicas" {
        for_each = var.replica_locations
        content {
          location = replicas.value
        }
      }
    }
  }
}
