variable "project_id" {
  description = "The GCP project that holds the load balancer."
  type        = string
}

variable "project_number" {
  description = "The project's number; it is part of the IAP audience (/projects/NUMBER/global/backendServices/ID)."
  type        = string
}

variable "region" {
  description = "The region of the Cloud Run service behind the serverless NEG."
  type        = string
}

variable "name" {
  description = "The prefix of every load balancer resource name."
  type        = string
  default     = "clinical-api"
}

variable "api_domain" {
  description = "The domain staff and Coda use (for example ops.clinic.example). Its DNS A record must point to the output lb_ip before Google can issue the certificate."
  type        = string
}

variable "cloud_run_service" {
  description = "The name of the Cloud Run service behind the load balancer (clinical-api)."
  type        = string
}

variable "iap_members" {
  description = "Who may pass IAP to the admin surface: IAM members such as group:clinic-staff@clinic.example or user:name@clinic.example. Each also needs a row in the staff_roles table."
  type        = list(string)
}
