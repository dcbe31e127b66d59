variable "project_id" {
  description = "The GCP project that holds the bucket and the log sink."
  type        = string
}

variable "bucket_name" {
  description = "The audit archive bucket's globally unique name."
  type        = string
}

variable "location" {
  description = "The bucket's location: the US multi-region by default, so the archive stays in the US and survives the loss of a region."
  type        = string
  default     = "US"
}

variable "retention_period_seconds" {
  description = "How long every object is kept, in seconds (7 x 365 days = 220752000)."
  type        = number
  default     = 220752000
}

variable "lock_retention" {
  description = "Lock the retention policy (irreversible: it can then never be shortened or removed). True in production, false in staging."
  type        = bool
}

variable "archiver_members" {
  description = "IAM members (serviceAccount:...) that write archives into the bucket and read them back (the retention job's service account), keyed by a short static name so the plan knows the keys before the accounts exist."
  type        = map(string)
}

variable "sink_name" {
  description = "The name of the log sink that archives audit logs into the bucket."
  type        = string
  default     = "audit-archive"
}

variable "labels" {
  description = "Labels for the bucket."
  type        = map(string)
  default     = {}
}
