# One whole environment of the clinical-ops sync service in one GCP project: every other
# module, wired together. terraform/environments/{staging,production} each call this module
# with their own values, so the two environments differ only in variables.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  project_number = data.google_project.this.number
  labels         = { app = "clinical-sync", environment = var.environment }

  apis = [
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "iam.googleapis.com",
    "iap.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "orgpolicy.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
  ]
}

resource "google_project_service" "apis" {
  for_each = toset(local.apis)

  project = var.project_id
  service = each.value
  # Turning an API off would break whatever else uses it; destroying this configuration leaves
  # them on.
  disable_on_destroy = false
}

module "org_policies" {
  source = "../org-policies"
  count  = var.manage_org_policies ? 1 : 0

  parent = coalesce(var.org_policy_parent, "projects/${var.project_id}")

  depends_on = [google_project_service.apis]
}

module "networking" {
  source = "../networking"

  project_id  = var.project_id
  region      = var.region
  subnet_cidr = var.subnet_cidr

  depends_on = [google_project_service.apis]
}

module "iam" {
  source = "../iam"

  project_id     = var.project_id
  project_number = local.project_number

  depends_on = [google_project_service.apis]
}

module "secrets" {
  source = "../secrets"

  project_id        = var.project_id
  replica_locations = var.secret_replica_locations
  labels            = local.labels

  depends_on = [google_project_service.apis]
}

module "build" {
  source = "../build"

  project_id      = var.project_id
  region          = var.region
  deployer_member = module.iam.members.deployer
  labels          = local.labels

  depends_on = [google_project_service.apis]
}

module "cloud_sql" {
  source = "../cloud-sql"

  project_id        = var.project_id
  region            = var.region
  tier              = var.sql_tier
  disk_size_gb      = var.sql_disk_size_gb
  availability_type = var.sql_availability_type
  network_id        = module.networking.network_id
  labels            = local.labels
  iam_service_accounts = {
    sync = module.iam.emails.sync
    push = module.iam.emails.push
    api  = module.iam.emails.api
  }
}

module "storage" {
  source = "../storage"

  project_id       = var.project_id
  bucket_name      = "${var.project_id}-audit-archive"
  lock_retention   = var.lock_retention
  archiver_members = { ops = module.iam.members.ops }
  labels           = local.labels

  depends_on = [google_project_service.apis]
}

module "pubsub" {
  source = "../pubsub"

  project_id                 = var.project_id
  persistence_regions        = [var.region]
  push_endpoint              = "${module.cloud_run.service_urls.push}/pubsub/push"
  push_audience              = module.cloud_run.audiences.push
  push_service_account_email = module.iam.emails.pubsub_push
  pubsub_service_agent       = module.iam.pubsub_service_agent
  publisher_members          = { sync = module.iam.members.sync }
  subscriber_members         = { push = module.iam.members.push }
  labels                     = local.labels

  depends_on = [google_project_service.apis]
}

module "cloud_run" {
  source = "../cloud-run"

  project_id          = var.project_id
  project_number      = local.project_number
  region              = var.region
  image               = var.image
  sql_connection_name = module.cloud_sql.connection_name
  database_name       = module.cloud_sql.database_name
  network_id          = module.networking.network_id
  subnet_id           = module.networking.subnet_id
  service_accounts = {
    sync = module.iam.emails.sync
    push = module.iam.emails.push
    api  = module.iam.emails.api
    ops  = module.iam.emails.ops
  }
  db_users = {
    sync = module.cloud_sql.iam_users.sync
    push = module.cloud_sql.iam_users.push
    api  = module.cloud_sql.iam_users.api
  }
  scheduler_email     = module.iam.emails.scheduler
  pubsub_push_email   = module.iam.emails.pubsub_push
  iap_audience        = module.edge.iap_audience
  secrets             = module.secrets.secrets
  drchrono_base_url   = var.drchrono_base_url
  coda_base_url       = var.coda_base_url
  coda_doc_id         = var.coda_doc_id
  change_events_topic = module.pubsub.topic_name
  audit_bucket        = module.storage.bucket_name
  min_instances       = var.min_instances
  max_instances       = var.max_instances
  operator_members    = var.operator_members
  labels              = local.labels
}

module "scheduler" {
  source = "../scheduler"

  project_id         = var.project_id
  region             = var.region
  time_zone          = var.time_zone
  sync_url           = module.cloud_run.service_urls.sync
  sync_audience      = module.cloud_run.audiences.sync
  invoker_email      = module.iam.emails.scheduler
  retention_job_name = module.cloud_run.job_names.retention
}

module "edge" {
  source = "../edge"

  project_id        = var.project_id
  project_number    = local.project_number
  region            = var.region
  api_domain        = var.api_domain
  cloud_run_service = module.cloud_run.service_names.api
  iap_members       = var.iap_members
}

module "monitoring" {
  source = "../monitoring"

  project_id               = var.project_id
  notification_channels    = var.notification_channels
  service_names            = values(module.cloud_run.service_names)
  dead_letter_subscription = module.pubsub.dead_letter_subscription
  sql_database_id          = module.cloud_sql.database_id
  runbook_url              = var.runbook_url

  depends_on = [google_project_service.apis]
}
