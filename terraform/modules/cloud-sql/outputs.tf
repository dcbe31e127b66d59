output "instance_name" {
  description = "The Cloud SQL instance name."
  value       = google_sql_database_instance.main.name
}

output "connection_name" {
  description = "The instance connection name (PROJECT:REGION:INSTANCE) that the Cloud SQL Auth Proxy connects to."
  value       = google_sql_database_instance.main.connection_name
}

output "database_id" {
  description = "The monitored-resource id of the instance (PROJECT:INSTANCE), as Cloud Monitoring labels it."
  value       = "${var.project_id}:${google_sql_database_instance.main.name}"
}

output "private_ip" {
  description = "The instance's private IP address."
  value       = google_sql_database_instance.main.private_ip_address
}

output "database_name" {
  description = "The application database."
  value       = google_sql_database.main.name
}

output "iam_users" {
  description = "The IAM database user name of each service account, keyed like var.iam_service_accounts."
  value       = { for key, user in google_sql_user.iam : key => user.name }
}
