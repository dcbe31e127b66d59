variable "project_id" {
  description = "The GCP project of this environment (one project per environment)."
  type        = string
}

variable "environment" {
  description = "The environment's name (staging, production), used in labels."
  type        = string
}

variable "region" {
  description = "The region of every regional resource (a US region)."
  type        = string
}

variable "image" {
  description = "The runner image the services and jobs are created with (the bootstrap image of docs/DEPLOY.md). Later images are deployed by Cloud Build."
  type        = string
}

variable "subnet_cidr" {
  description = "The range of the subnet Cloud Run's Direct VPC egress uses."
  type        = string
}

variable "sql_tier" {
  description = "The Cloud SQL machine type."
  type        = string
}

variable "sql_disk_size_gb" {
  description = "The initial Cloud SQL disk size in GB (it grows automatically)."
  type        = number
}

variable "sql_availability_type" {
  description = "REGIONAL (standby in a second zone) or ZONAL."
  type        = string
}

variable "lock_retention" {
  description = "Lock the audit bucket's seven-year retention policy (irreversible)."
  type        = bool
}

variable "min_instances" {
  description = "The minimum number of instances of each service (sync, push, api)."
  type = object({
    sync = number
    push = number
    api  = number
  })
}

variable "max_instances" {
  description = "The maximum number of instances of each service (sync, push, api)."
  type = object({
    sync = number
    push = number
    api  = number
  })
}

variable "drchrono_base_url" {
  description = "DrChrono's base URL."
  type        = string
}

variable "coda_base_url" {
  description = "Coda's API base URL."
  type        = string
}

variable "coda_doc_id" {
  description = "The id of the clinic's Coda doc."
  type        = string
}

variable "api_domain" {
  description = "The domain of the load balancer in front of the write-back API and the admin dashboard."
  type        = string
}

variable "iap_members" {
  description = "The staff allowed through IAP to the admin surface (group:... or user:...)."
  type        = list(string)
}

variable "operator_members" {
  description = "Who may run the operator jobs (runner-sync-ops, runner-push-ops) with their own arguments."
  type        = list(string)
}

variable "notification_channels" {
  description = "The notification channel ids every alert policy notifies."
  type        = list(string)
}

variable "time_zone" {
  description = "The time zone of the scheduler jobs."
  type        = string
}

variable "secret_replica_locations" {
  description = "The US regions every secret is replicated to."
  type        = list(string)
}

variable "manage_org_policies" {
  description = "Set the seed's organization policies from this configuration (needs roles/orgpolicy.policyAdmin)."
  type        = bool
}

variable "org_policy_parent" {
  description = "Where the organization policies are set (projects/ID, folders/NUMBER or organizations/NUMBER); empty means this project."
  type        = string
}

variable "runbook_url" {
  description = "Where docs/RUNBOOK.md can be read; alert documentation links its sections."
  type        = string
}
