output "secret_ids" {
  description = "Every secret id (the short name that Cloud Run's secret_key_ref uses)."
  value       = local.secret_ids
}

output "secrets" {
  description = "The resource id (projects/P/secrets/S) of each secret, keyed by secret id."
  value       = { for id, secret in google_secret_manager_secret.this : id => secret.id }
}
