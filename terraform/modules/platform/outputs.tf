output "egress_ip" {
  description = "The fixed address all outbound calls leave from: give it to DrChrono for its allow-list."
  value       = module.networking.egress_ip
}

output "webhook_urls" {
  description = "The URLs to register with DrChrono (/webhooks/drchrono) and Deep Cura (/webhooks/deepcura), and the questionnaire route (/inbound/questionnaires)."
  value       = module.cloud_run.webhook_urls
}

output "service_urls" {
  description = "The run.app URL of each service."
  value       = module.cloud_run.service_urls
}

output "lb_ip" {
  description = "The load balancer's address: the api domain's DNS A record."
  value       = module.edge.lb_ip
}

output "api_base_url" {
  description = "The base URL of the write-back API (/api/*) and the admin dashboard (/admin)."
  value       = module.edge.api_base_url
}

output "iap_audience" {
  description = "The audience of IAP's signed header that the api service verifies."
  value       = module.edge.iap_audience
}

output "sql_connection_name" {
  description = "The Cloud SQL instance connection name."
  value       = module.cloud_sql.connection_name
}

output "sql_instance" {
  description = "The Cloud SQL instance name (for gcloud sql users create)."
  value       = module.cloud_sql.instance_name
}

output "audit_bucket" {
  description = "The audit archive bucket."
  value       = module.storage.bucket_name
}

output "runner_image" {
  description = "The runner image name in Artifact Registry (tag it with the commit)."
  value       = module.build.runner_image
}

output "build_source_bucket" {
  description = "The staging bucket for gcloud builds submit (--gcs-source-staging-dir gs://BUCKET/source)."
  value       = module.build.source_bucket
}

output "service_accounts" {
  description = "The email of every service account of the deployment."
  value       = module.iam.emails
}

output "secret_ids" {
  description = "Every Secret Manager secret whose value must be set with gcloud secrets versions add."
  value       = module.secrets.secret_ids
}

output "job_names" {
  description = "The Cloud Run jobs (migrate, retention)."
  value       = module.cloud_run.job_names
}

output "ops_job_names" {
  description = "The operator jobs that run a runner verb inside the deployment (docs/RUNBOOK.md)."
  value       = module.cloud_run.ops_job_names
}

output "dashboards" {
  description = "The Cloud Monitoring dashboards."
  value       = module.monitoring.dashboards
}
