# The staging environment: one GCP project running the whole deployment
# (terraform/modules/platform). Its values are in terraform.tfvars (see
# terraform.tfvars.example); its defaults in variables.tf are the staging ones.

provider "google" {
  project = var.project_id
  region  = var.region
}

module "platform" {
  source = "../../modules/platform"

  project_id               = var.project_id
  environment              = "staging"
  region                   = var.region
  image                    = var.image
  subnet_cidr              = var.subnet_cidr
  sql_tier                 = var.sql_tier
  sql_disk_size_gb         = var.sql_disk_size_gb
  sql_availability_type    = var.sql_availability_type
  lock_retention           = var.lock_retention
  min_instances            = var.min_instances
  max_instances            = var.max_instances
  drchrono_base_url        = var.drchrono_base_url
  coda_base_url            = var.coda_base_url
  coda_doc_id              = var.coda_doc_id
  api_domain               = var.api_domain
  iap_members              = var.iap_members
  operator_members         = var.operator_members
  notification_channels    = var.notification_channels
  time_zone                = var.time_zone
  secret_replica_locations = var.secret_replica_locations
  manage_org_policies      = var.manage_org_policies
  org_policy_parent        = var.org_policy_parent
  runbook_url              = var.runbook_url
}
