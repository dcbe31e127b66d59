# Identities and project-wide grants. Every workload runs as its own service account with only
# what the seed's Access Control table gives it; no service account key exists (and the org
# policy iam.disableServiceAccountKeyCreation forbids creating one). Staff reach the admin
# surface only through IAP (modules/edge).
#
# Grants on a single resource live beside that resource, so each is scoped to exactly it:
# - Secret Manager: each account reads only the secrets its own containers mount
#   (modules/cloud-run, derived from the services' and jobs' `secrets` maps);
# - Cloud Run: run.invoker on one service or job (modules/cloud-run);
# - Pub/Sub: publisher on the change-events topic, subscriber on its subscription, and the
#   Pub/Sub service agent's dead-letter grants (modules/pubsub);
# - Cloud Storage: the retention job on the audit bucket only (modules/storage);
# - Artifact Registry and the build source bucket: the deployer on those two only (modules/build).
# Cloud SQL has no per-instance IAM: its two roles are granted on the project below.

locals {
  service_accounts = {
    sync = {
      account_id   = "drchrono-sync-sa"
      display_name = "drchrono-sync (Cloud Run)"
      description  = "The sync service: DrChrono and Deep Cura webhooks, scheduled reconciliation, change events to Pub/Sub."
    }
    push = {
      account_id   = "coda-push-sa"
      display_name = "coda-push (Cloud Run)"
      description  = "The push service: receives change events from Pub/Sub and writes Coda."
    }
    api = {
      account_id   = "writeback-api-sa"
      display_name = "clinical-api (Cloud Run)"
      description  = "The write-back API and admin dashboard behind the load balancer."
    }
    ops = {
      account_id   = "runner-ops-sa"
      display_name = "runner jobs (Cloud Run)"
      description  = "The migration and retention jobs: the schema owner's password, the audit archive bucket."
    }
    scheduler = {
      account_id   = "scheduler-invoker-sa"
      display_name = "Cloud Scheduler invoker"
      description  = "Signs Cloud Scheduler's calls to /sync/all and to the retention job."
    }
    pubsub_push = {
      account_id   = "pubsub-push-sa"
      display_name = "Pub/Sub push identity"
      description  = "The identity in the OIDC token of every change-events push request."
    }
    deployer = {
      account_id   = "cloudbuild-deployer-sa"
      display_name = "Cloud Build deployer"
      description  = "Runs cloudbuild.yaml: pushes the image, runs the migration job, rolls out the services."
    }
  }

  # Project-level roles. cloudsql.client lets the Auth Proxy open a connection;
  # cloudsql.instanceUser lets an IAM database user log in. The jobs log in with the owner's
  # password, so they need only the first.
  project_roles = {
    "sync cloudsql.client"       = { account = "sync", role = "roles/cloudsql.client" }
    "sync cloudsql.instanceUser" = { account = "sync", role = "roles/cloudsql.instanceUser" }
    "push cloudsql.client"       = { account = "push", role = "roles/cloudsql.client" }
    "push cloudsql.instanceUser" = { account = "push", role = "roles/cloudsql.instanceUser" }
    "api cloudsql.client"        = { account = "api", role = "roles/cloudsql.client" }
    "api cloudsql.instanceUser"  = { account = "api", role = "roles/cloudsql.instanceUser" }
    "ops cloudsql.client"        = { account = "ops", role = "roles/cloudsql.client" }
    # The deployer updates the services' and jobs' images and executes the migration job.
    "deployer run.developer" = { account = "deployer", role = "roles/run.developer" }
    # Builds that run as a user-managed account write their logs to Cloud Logging themselves.
    "deployer logging.logWriter" = { account = "deployer", role = "roles/logging.logWriter" }
  }

  # The accounts whose identity a deployed revision or job execution runs as: the deployer
  # must be allowed to act as them, and as nothing else.
  runtime_accounts = ["sync", "push", "api", "ops"]

  pubsub_service_agent = "serviceAccount:service-${var.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_service_account" "this" {
  for_each = local.service_accounts

  project      = var.project_id
  account_id   = each.value.account_id
  display_name = each.value.display_name
  description  = each.value.description
}

resource "google_project_iam_member" "this" {
  for_each = local.project_roles

  project = var.project_id
  role    = each.value.role
  member  = google_service_account.this[each.value.account].member
}

resource "google_service_account_iam_member" "deployer_acts_as" {
  for_each = toset(local.runtime_accounts)

  service_account_id = google_service_account.this[each.value].name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.this["deployer"].member
}

# Pub/Sub mints the OIDC token of each push request as pubsub-push-sa.
resource "google_service_account_iam_member" "pubsub_agent_mints_push_tokens" {
  service_account_id = google_service_account.this["pubsub_push"].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# Data Access audit logs where they answer "who read what": reads of the audit archive and
# every access to a secret value. Writes to the archive are left out on purpose: the log sink
# writes there, and logging its own writes would feed the archive with records of itself.
resource "google_project_iam_audit_config" "data_access" {
  for_each = toset(["storage.googleapis.com", "secretmanager.googleapis.com"])

  project = var.project_id
  service = each.value

  audit_log_config {
    log_type = "DATA_READ"
  }
}
