variable "project_id" {
  description = "The GCP project that holds the service accounts."
  type        = string
}

variable "project_number" {
  description = "The project's number, which names the Pub/Sub service agent (service-NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com)."
  type        = string
}
