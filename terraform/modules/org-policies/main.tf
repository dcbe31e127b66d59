# The seed's organization policies, set on one resource (a project, a folder or the whole
# organization: var.parent). Setting a policy needs the Organization Policy Administrator role
# (roles/orgpolicy.policyAdmin), which exists only at the organization level: an org admin
# applies them, either through this module or in the organization's own configuration (then
# the environment sets manage_org_policies = false).

locals {
  # Boolean constraints, enforced.
  enforced = {
    "sql.restrictPublicIp"                 = "Cloud SQL instances may not have a public IP."
    "iam.disableServiceAccountKeyCreation" = "No service account key may be created: workloads use their attached identity."
    "storage.uniformBucketLevelAccess"     = "Buckets use IAM only, never object ACLs."
  }
}

resource "google_org_policy_policy" "enforced" {
  for_each = local.enforced

  name   = "${var.parent}/policies/${each.key}"
  parent = var.parent

  spec {
    rules {
      enforce = "TRUE"
    }
  }
}

# Resources may be created in US locations only.
resource "google_org_policy_policy" "resource_locations" {
  name   = "${var.parent}/policies/gcp.resourceLocations"
  parent = var.parent

  spec {
    rules {
      values {
        allowed_values = var.allowed_locations
      }
    }
  }
}
