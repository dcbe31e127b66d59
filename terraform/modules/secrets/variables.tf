variable "project_id" {
  description = "The GCP project that holds the secrets."
  type        = string
}

variable "replica_locations" {
  description = "The regions each secret is replicated to (user-managed replication keeps every copy in the US)."
  type        = list(string)
  default     = ["us-central1", "us-east1"]

  validation {
    condition     = alltrue([for location in var.replica_locations : startswith(location, "us-")])
    error_message = "Every replica location must be a US region."
  }
}

variable "labels" {
  description = "Labels for every secret."
  type        = map(string)
  default     = {}
}
