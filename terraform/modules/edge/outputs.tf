output "lb_ip" {
  description = "The load balancer's address: point the api domain's DNS A record here."
  value       = google_compute_global_address.api.address
}

output "api_base_url" {
  description = "The base URL of the write-back API and the admin dashboard."
  value       = "https://${var.api_domain}"
}

output "iap_audience" {
  description = "The audience (aud claim) of IAP's signed header on the admin backend, which the runner verifies: /projects/PROJECT_NUMBER/global/backendServices/SERVICE_ID."
  value       = "/projects/${var.project_number}/global/backendServices/${google_compute_backend_service.this["admin"].generated_id}"
}

output "admin_backend_service" {
  description = "The name of the IAP-protected backend service."
  value       = google_compute_backend_service.this["admin"].name
}
