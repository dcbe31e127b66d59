output "service_names" {
  description = "The Cloud Run service name of each role (sync, push, api). Known before the services exist (the edge module's NEG and the api service's IAP audience would otherwise form a cycle)."
  value       = local.service_names
}

output "service_urls" {
  description = "The deterministic run.app URL of each service. The api service answers on it only from inside the VPC; use the load balancer's domain."
  value       = local.urls
}

output "audiences" {
  description = "The OIDC audience of the sync and push services (also their OIDC_AUDIENCE)."
  value       = local.audiences
}

output "job_names" {
  description = "The Cloud Run job names (migrate, retention)."
  value       = { for key, job in google_cloud_run_v2_job.this : key => job.name }
}

output "ops_job_names" {
  description = "The operator jobs that run a runner verb inside the deployment (sync, push)."
  value       = { for key, job in google_cloud_run_v2_job.ops : key => job.name }
}

output "webhook_urls" {
  description = "The URLs to register with DrChrono and Deep Cura, and the questionnaire route the patient app and the email processor post to."
  value = {
    drchrono       = "${local.urls.sync}/webhooks/drchrono"
    deepcura       = "${local.urls.sync}/webhooks/deepcura"
    questionnaires = "${local.urls.sync}/inbound/questionnaires"
  }
}
