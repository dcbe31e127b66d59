variable "project_id" {
  description = "The GCP project that holds the network."
  type        = string
}

variable "region" {
  description = "The region of the subnet, the router and the NAT address (the region of the Cloud Run services)."
  type        = string
}

variable "network_name" {
  description = "The name of the VPC; also the prefix of the subnet, firewall, router, NAT and address names."
  type        = string
  default     = "feel-august-vpc"
}

variable "subnet_name" {
  description = "The name of the subnet that Cloud Run's Direct VPC egress uses."
  type        = string
  default     = "feel-august-run"
}

variable "subnet_cidr" {
  description = "The primary range of the Cloud Run subnet. Direct VPC egress takes about two addresses per instance, so a /24 serves well over a hundred instances."
  type        = string
  default     = "10.10.0.0/24"
}

variable "private_services_prefix_length" {
  description = "The prefix length of the range reserved for private services access (Cloud SQL private IPs). Google recommends /20 or larger; /24 is the minimum."
  type        = number
  default     = 20
}
