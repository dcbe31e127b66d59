output "egress_ip" {
  description = "The fixed address all outbound calls leave from: give it to DrChrono for its allow-list."
  value       = module.platform.egress_ip
}

output "webhook_urls" {
  description = "The URLs to register with DrChrono and Deep Cura, and the questionnaire route of the patient app and the email processor."
  value       = module.platform.webhook_urls
}

output "service_urls" {
  description = "The run.app URL of each service."
  value       = module.platform.service_urls
}

output "lb_ip" {
  description = "The load balancer's address: point the api domain's DNS A record here."
  value       = module.platform.lb_ip
}

output "api_base_url" {
  description = "The base URL of the write-back API (/api/*) and the admin dashboard (/admin)."
  value       = module.platform.api_base_url
}

output "iap_audience" {
  description = "The audience of IAP's signed header that the api service verifies."
  value       = module.platform.iap_audience
}

output "sql_connection_name" {
  description = "The Cloud SQL instance connection name."
  value       = module.platform.sql_connection_name
}

output "sql_instance" {
  description = "The Cloud SQL instance name."
  value       = module.platform.sql_instance
}

output "audit_bucket" {
  description = "The audit archive bucket."
  value       = module.platform.audit_bucket
}

output "runner_image" {
  description = "The runner image name in Artifact Registry."
  value       = module.platform.runner_image
}

output "build_source_bucket" {
  description = "The staging bucket for gcloud builds submit (--gcs-source-staging-dir gs://BUCKET/source)."
  value       = module.platform.build_source_bucket
}

output "service_accounts" {
  description = "The email of every service account."
  value       = module.platform.service_accounts
}

output "secret_ids" {
  description = "The secrets whose values must be set with gcloud secrets versions add."
  value       = module.platform.secret_ids
}

output "job_names" {
  description = "The Cloud Run jobs."
  value       = module.platform.job_names
}

output "ops_job_names" {
  description = "The operator jobs that run a runner verb inside the deployment (docs/RUNBOOK.md)."
  value       = module.platform.ops_job_names
}

output "dashboards" {
  description = "The Cloud Monitoring dashboards."
  value       = module.platform.dashboards
}
