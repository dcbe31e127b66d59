# The defaults are the production values; terraform.tfvars sets the rest.

variable "project_id" {
  description = "The GCP project of the production environment."
  type        = string
}

variable "region" {
  description = "The region of every regional resource; it must be a US region."
  type        = string
  default     = "us-central1"
}

variable "image" {
  description = "The runner image the services and jobs are first created with, REGION-docker.pkg.dev/PROJECT/clinical-sync/runner:TAG. Cloud Build deploys later images; Terraform ignores the difference."
  type        = string
}

variable "subnet_cidr" {
  description = "The range of the subnet that Cloud Run's Direct VPC egress uses (about two addresses per instance)."
  type        = string
  default     = "10.10.0.0/24"
}

variable "sql_tier" {
  description = "The Cloud SQL machine type."
  type        = string
  default     = "db-custom-2-7680"
}

variable "sql_disk_size_gb" {
  description = "The initial Cloud SQL SSD size in GB; it grows automatically."
  type        = number
  default     = 50
}

variable "sql_availability_type" {
  description = "REGIONAL (a standby in a second zone with automatic failover) or ZONAL (one zone)."
  type        = string
  default     = "REGIONAL"
}

variable "lock_retention" {
  description = "Lock the audit bucket's seven-year retention policy. Irreversible: a locked policy can never be shortened or removed."
  type        = bool
  default     = true
}

variable "min_instances" {
  description = "The minimum number of instances of each service: sync (drchrono-sync), push (coda-push), api (clinical-api)."
  type = object({
    sync = number
    push = number
    api  = number
  })
  default = { sync = 1, push = 0, api = 0 }
}

variable "max_instances" {
  description = "The maximum number of instances of each service (a ceiling on cost and on database connections)."
  type = object({
    sync = number
    push = number
    api  = number
  })
  default = { sync = 5, push = 5, api = 3 }
}

variable "drchrono_base_url" {
  description = "DrChrono's base URL (DRCHRONO_BASE_URL)."
  type        = string
  default     = "https://drchrono.com"
}

variable "coda_base_url" {
  description = "Coda's API base URL (CODA_BASE_URL)."
  type        = string
  default     = "https://coda.io/apis/v1"
}

variable "coda_doc_id" {
  description = "The id of the clinic's Coda doc (CODA_DOC_ID), from the doc's URL or API; an identifier, not a secret."
  type        = string
}

variable "api_domain" {
  description = "The domain of the load balancer in front of the write-back API and the admin dashboard; its DNS A record must point to the output lb_ip."
  type        = string
}

variable "iap_members" {
  description = "Who may pass IAP to the admin dashboard, as IAM members: group:staff@clinic.example, user:name@clinic.example."
  type        = list(string)
}

variable "operator_members" {
  description = "Who may run the operator jobs (runner-sync-ops, runner-push-ops) with their own arguments, as IAM members: group:clinic-oncall@clinic.example. Project owners can already."
  type        = list(string)
  default     = []
}

variable "notification_channels" {
  description = "The ids of the Cloud Monitoring notification channels every alert notifies (projects/PROJECT/notificationChannels/ID)."
  type        = list(string)
}

variable "time_zone" {
  description = "The IANA time zone of the scheduler jobs."
  type        = string
  default     = "America/New_York"
}

variable "secret_replica_locations" {
  description = "The US regions every Secret Manager secret is replicated to."
  type        = list(string)
  default     = ["us-central1", "us-east1"]
}

variable "manage_org_policies" {
  description = "Set the seed's organization policies from this configuration; needs roles/orgpolicy.policyAdmin at the organization. False when the organization sets them itself."
  type        = bool
  default     = true
}

variable "org_policy_parent" {
  description = "Where the organization policies are set: projects/ID, folders/NUMBER or organizations/NUMBER. Empty means this environment's project."
  type        = string
  default     = ""
}

variable "runbook_url" {
  description = "Where docs/RUNBOOK.md can be read (a repository URL, for example); each alert links its section."
  type        = string
  default     = "docs/RUNBOOK.md"
}
