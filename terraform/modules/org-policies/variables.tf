variable "parent" {
  description = "Where the policies are set: projects/PROJECT_ID, folders/FOLDER_NUMBER or organizations/ORG_NUMBER."
  type        = string

  validation {
    condition     = can(regex("^(projects|folders|organizations)/[^/]+$", var.parent))
    error_message = "parent must look like projects/ID, folders/NUMBER or organizations/NUMBER."
  }
}

variable "allowed_locations" {
  description = "The value of constraints/gcp.resourceLocations."
  type        = list(string)
  default     = ["in:us-locations"]
}
