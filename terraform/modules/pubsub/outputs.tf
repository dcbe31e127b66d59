output "topic_name" {
  description = "The change-events topic (the sync service's PUBSUB_TOPIC)."
  value       = google_pubsub_topic.change_events.name
}

output "push_subscription" {
  description = "The push subscription that delivers change events to the push service."
  value       = google_pubsub_subscription.push.name
}

output "dead_letter_topic" {
  description = "The dead-letter topic."
  value       = google_pubsub_topic.dead_letter.name
}

output "dead_letter_subscription" {
  description = "The pull subscription on the dead-letter topic (watched by the DLQ Depth alert)."
  value       = google_pubsub_subscription.dead_letter.name
}
