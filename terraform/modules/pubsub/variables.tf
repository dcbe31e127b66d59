variable "project_id" {
  description = "The GCP project that holds the topics and subscriptions."
  type        = string
}

variable "topic_name" {
  description = "The change-events topic; the dead-letter topic and the subscriptions are named after it (-dlq, -push, -dlq-sub)."
  type        = string
  default     = "change-events"
}

variable "persistence_regions" {
  description = "The regions Pub/Sub may store messages in."
  type        = list(string)
}

variable "push_endpoint" {
  description = "The URL Pub/Sub pushes each change event to (the push service's /pubsub/push)."
  type        = string
}

variable "push_audience" {
  description = "The audience of the push requests' OIDC tokens; the push service verifies the same value (its OIDC_AUDIENCE)."
  type        = string
}

variable "push_service_account_email" {
  description = "The service account whose OIDC token signs each push request (pubsub-push-sa)."
  type        = string
}

variable "pubsub_service_agent" {
  description = "The IAM member string of the project's Pub/Sub service agent (serviceAccount:service-NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com)."
  type        = string
}

variable "publisher_members" {
  description = "IAM members that may publish change events (the sync service's account), keyed by a short static name."
  type        = map(string)
}

variable "subscriber_members" {
  description = "IAM members with subscriber on the push subscription (the push service's account), keyed by a short static name."
  type        = map(string)
}

variable "labels" {
  description = "Labels for the topics and subscriptions."
  type        = map(string)
  default     = {}
}
