output "emails" {
  description = "The email of each service account, keyed by sync, push, api, ops, scheduler, pubsub_push and deployer."
  value       = { for key, account in google_service_account.this : key => account.email }
}

output "members" {
  description = "The IAM member string (serviceAccount:EMAIL) of each service account, keyed like `emails`."
  value       = { for key, account in google_service_account.this : key => account.member }
}

output "pubsub_service_agent" {
  description = "The IAM member string of the project's Pub/Sub service agent."
  value       = local.pubsub_service_agent
}
