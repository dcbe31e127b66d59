# Terraform state of the staging environment, in a versioned Cloud Storage bucket created once by
# hand (docs/DEPLOY.md, "State bucket"). Another bucket can be given at init time:
#   terraform init -backend-config="bucket=NAME"
terraform {
  backend "gcs" {
    bucket = "feel-august-tfstate-staging"
    prefix = "clinical-sync/staging"
  }
}
