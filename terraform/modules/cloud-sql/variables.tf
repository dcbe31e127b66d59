variable "project_id" {
  description = "The GCP project that holds the instance."
  type        = string
}

variable "region" {
  description = "The region of the instance (the region of the Cloud Run services)."
  type        = string
}

variable "instance_name" {
  description = "The Cloud SQL instance name. Instance names cannot be reused for about a week after deletion."
  type        = string
  default     = "feel-august-pg"
}

variable "tier" {
  description = "The machine type (the seed's db-custom-2-7680: 2 vCPU, 7.5 GB)."
  type        = string
  default     = "db-custom-2-7680"
}

variable "disk_size_gb" {
  description = "The initial SSD size in GB; the disk grows automatically, and the Database Storage alert fires at 80% use."
  type        = number
  default     = 50
}

variable "availability_type" {
  description = "REGIONAL (a standby in a second zone, automatic failover) or ZONAL (one zone)."
  type        = string

  validation {
    condition     = contains(["REGIONAL", "ZONAL"], var.availability_type)
    error_message = "availability_type must be REGIONAL or ZONAL."
  }
}

variable "network_id" {
  description = "The VPC that the private IP is allocated in (it must have private services access)."
  type        = string
}

variable "database_name" {
  description = "The application database."
  type        = string
  default     = "clinical"
}

variable "iam_service_accounts" {
  description = "Service account emails that get an IAM database user, keyed by a short name (sync, push, api). The key is reused in the output iam_users."
  type        = map(string)
}

variable "backup_start_time" {
  description = "The daily backup window start, HH:MM in UTC."
  type        = string
  default     = "08:00"
}

variable "retained_backups" {
  description = "How many daily backups to keep."
  type        = number
  default     = 30
}

variable "maintenance_hour_utc" {
  description = "The hour (UTC, 0-23) of the Sunday maintenance window."
  type        = number
  default     = 9
}

variable "labels" {
  description = "Labels for the instance."
  type        = map(string)
  default     = {}
}
