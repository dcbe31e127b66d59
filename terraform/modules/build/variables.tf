variable "project_id" {
  description = "The GCP project that holds the repository and the source bucket."
  type        = string
}

variable "region" {
  description = "The region of the repository and the source bucket (the region of the Cloud Run services, so image pulls stay regional)."
  type        = string
}

variable "repository_id" {
  description = "The Docker repository's name; cloudbuild.yaml's _REPOSITORY must match it."
  type        = string
  default     = "clinical-sync"
}

variable "deployer_member" {
  description = "The IAM member that builds and deploys (serviceAccount:cloudbuild-deployer-sa@...)."
  type        = string
}

variable "labels" {
  description = "Labels for the repository and the bucket."
  type        = map(string)
  default     = {}
}
