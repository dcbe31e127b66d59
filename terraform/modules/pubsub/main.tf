# Change events between the two halves of the runner: the sync service publishes each outbox
# event to `change-events`; a push subscription delivers it to the push service with an OIDC
# token of pubsub-push-sa. After five failed deliveries a message moves to `change-events-dlq`,
# whose pull subscription the DLQ Depth alert watches. Messages carry table names and record
# ids, never record contents.

resource "google_pubsub_topic" "change_events" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest, as the seed's HIPAA safeguards table specifies; messages hold table names and record ids only, and a customer-managed key would add key administration without meeting a stated requirement.
  project = var.project_id
  name    = var.topic_name
  labels  = var.labels

  message_storage_policy {
    allowed_persistence_regions = var.persistence_regions
  }
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest, as the seed's HIPAA safeguards table specifies; messages hold table names and record ids only, and a customer-managed key would add key administration without meeting a stated requirement.
  project = var.project_id
  name    = "${var.topic_name}-dlq"
  labels  = var.labels

  message_storage_policy {
    allowed_persistence_regions = var.persistence_regions
  }
}

resource "google_pubsub_subscription" "push" {
  project = var.project_id
  name    = "${var.topic_name}-push"
  topic   = google_pubsub_topic.change_events.id
  labels  = var.labels

  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = var.push_endpoint

    oidc_token {
      service_account_email = var.push_service_account_email
      audience              = var.push_audience
    }
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = 5
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  # Never expire for inactivity: a quiet week must not delete the subscription.
  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "dead_letter" {
  project = var.project_id
  name    = "${var.topic_name}-dlq-sub"
  topic   = google_pubsub_topic.dead_letter.id
  labels  = var.labels

  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }
}

# The sync service publishes to the change-events topic only.
resource "google_pubsub_topic_iam_member" "publishers" {
  for_each = var.publisher_members

  project = var.project_id
  topic   = google_pubsub_topic.change_events.name
  role    = "roles/pubsub.publisher"
  member  = each.value
}

resource "google_pubsub_subscription_iam_member" "subscribers" {
  for_each = var.subscriber_members

  project      = var.project_id
  subscription = google_pubsub_subscription.push.name
  role         = "roles/pubsub.subscriber"
  member       = each.value
}

# Dead-lettering is done by the Pub/Sub service agent: it must publish to the dead-letter
# topic and acknowledge (subscribe to) the source subscription.
resource "google_pubsub_topic_iam_member" "agent_dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = var.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "agent_source_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.push.name
  role         = "roles/pubsub.subscriber"
  member       = var.pubsub_service_agent
}
