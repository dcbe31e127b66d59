output "network_id" {
  description = "The VPC's id (projects/P/global/networks/N). Read through the private services connection, so whatever uses it (Cloud SQL) waits for the peering."
  value       = google_service_networking_connection.private_services.network
}

output "network_name" {
  description = "The VPC's name."
  value       = google_compute_network.vpc.name
}

output "subnet_id" {
  description = "The id of the subnet that Cloud Run's Direct VPC egress uses."
  value       = google_compute_subnetwork.run.id
}

output "subnet_name" {
  description = "The name of the subnet that Cloud Run's Direct VPC egress uses."
  value       = google_compute_subnetwork.run.name
}

output "egress_ip" {
  description = "The static address every outbound call from Cloud Run leaves from (give it to DrChrono for its allow-list)."
  value       = google_compute_address.egress.address
}
