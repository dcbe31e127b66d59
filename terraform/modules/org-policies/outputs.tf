output "policies" {
  description = "The name of every policy set."
  value = concat(
    [for policy in google_org_policy_policy.enforced : policy.name],
    [google_org_policy_policy.resource_locations.name],
  )
}
