variable "project_id" {
  description = "The GCP project that holds the services and jobs."
  type        = string
}

variable "project_number" {
  description = "The project's number; it is part of Cloud Run's deterministic service URLs (https://SERVICE-NUMBER.REGION.run.app)."
  type        = string
}

variable "region" {
  description = "The region of the services and jobs."
  type        = string
}

variable "image" {
  description = "The runner image used when a service or job is created (for example REGION-docker.pkg.dev/PROJECT/clinical-sync/runner:bootstrap). Later images are rolled out by Cloud Build; Terraform ignores the difference."
  type        = string
}

variable "proxy_image" {
  description = "The Cloud SQL Auth Proxy sidecar image, pinned to a release of v2."
  type        = string
  default     = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.2"
}

variable "sql_connection_name" {
  description = "The Cloud SQL instance connection name (PROJECT:REGION:INSTANCE)."
  type        = string
}

variable "database_name" {
  description = "The application database."
  type        = string
  default     = "clinical"
}

variable "network_id" {
  description = "The VPC that Direct VPC egress attaches to."
  type        = string
}

variable "subnet_id" {
  description = "The subnet that Direct VPC egress takes its addresses from (its traffic leaves through Cloud NAT)."
  type        = string
}

variable "service_accounts" {
  description = "The email of the service account each workload runs as: sync, push and api (the services) and ops (both jobs)."
  type = object({
    sync = string
    push = string
    api  = string
    ops  = string
  })
}

variable "db_users" {
  description = "The IAM database user of each service's account (its email without .gserviceaccount.com)."
  type = object({
    sync = string
    push = string
    api  = string
  })
}

variable "iap_audience" {
  description = "The aud claim of IAP's signed header on the admin backend (/projects/NUMBER/global/backendServices/ID, the edge module's iap_audience): the api service's IAP_AUDIENCE. Empty refuses every /admin request."
  type        = string
  default     = ""
}

variable "scheduler_email" {
  description = "The email of scheduler-invoker-sa: the only identity the sync service accepts on /sync/* (OIDC_ALLOWED_EMAILS), and the invoker of the retention job."
  type        = string
}

variable "pubsub_push_email" {
  description = "The email of pubsub-push-sa: the only identity the push service accepts (OIDC_ALLOWED_EMAILS) and its only invoker."
  type        = string
}

variable "secrets" {
  description = "The resource id of every Secret Manager secret, keyed by secret id (modules/secrets). Naming a secret that is not in it fails the plan."
  type        = map(string)
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
  description = "The id of the clinic's Coda doc (CODA_DOC_ID); an identifier, not a secret."
  type        = string
}

variable "change_events_topic" {
  description = "The Pub/Sub topic the sync service publishes change events to (PUBSUB_TOPIC)."
  type        = string
}

variable "audit_bucket" {
  description = "The audit archive bucket the retention job writes to (AUDIT_ARCHIVE_BUCKET)."
  type        = string
}

variable "min_instances" {
  description = "The minimum number of instances of each service."
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

variable "labels" {
  description = "Labels for every service, revision and job."
  type        = map(string)
  default     = {}
}

variable "operator_members" {
  description = "Who may run the operator jobs (runner-sync-ops, runner-push-ops) with their own arguments: IAM members such as group:clinic-oncall@clinic.example. Project owners can already."
  type        = list(string)
  default     = []
}
