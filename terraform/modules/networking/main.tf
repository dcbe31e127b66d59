# The private network of the deployment: one custom-mode VPC (`feel-august-vpc`), one subnet
# that Cloud Run sends its traffic through (Direct VPC egress), private services access for the
# Cloud SQL private IP, and Cloud NAT with one reserved address, so every call to DrChrono
# leaves from a single IP that DrChrono can allow-list.
#
# Direct VPC egress rather than a Serverless VPC Access connector: the connector is a pair of
# always-on VMs (a cost and a throughput ceiling) that must be sized and patched, while Direct
# VPC egress gives each Cloud Run instance an address in the subnet below, scales with the
# instances and works with Cloud NAT. The subnet must hold about two addresses per instance.

resource "google_compute_network" "vpc" {
  project                 = var.project_id
  name                    = var.network_name
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"
}

resource "google_compute_subnetwork" "run" {
  project       = var.project_id
  name          = var.subnet_name
  region        = var.region
  network       = google_compute_network.vpc.id
  ip_cidr_range = var.subnet_cidr
  # Calls to Google APIs (Secret Manager, Cloud Storage, the Cloud SQL Admin API used by the
  # Auth Proxy) stay on Google's network instead of going through NAT.
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_5_SEC"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# Nothing in this deployment accepts connections from inside the VPC: Cloud Run receives its
# requests through Google's front ends, not the subnet. The explicit rule documents that, and
# logs any attempt.
resource "google_compute_firewall" "deny_ingress" {
  project   = var.project_id
  name      = "${var.network_name}-deny-ingress"
  network   = google_compute_network.vpc.id
  direction = "INGRESS"
  priority  = 65534

  deny {
    protocol = "all"
  }

  source_ranges = ["0.0.0.0/0"]

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# Private services access: Cloud SQL gets its private IP from this range, through a peering
# between this VPC and Google's service producer network.
resource "google_compute_global_address" "private_services" {
  project       = var.project_id
  name          = "${var.network_name}-private-services"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = var.private_services_prefix_length
  network       = google_compute_network.vpc.id
}

resource "google_service_networking_connection" "private_services" {
  network                 = google_compute_network.vpc.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.private_services.name]
}

# The fixed egress address that DrChrono allow-lists (output `egress_ip`).
resource "google_compute_address" "egress" {
  project      = var.project_id
  name         = "${var.network_name}-egress"
  region       = var.region
  address_type = "EXTERNAL"
  network_tier = "PREMIUM"
}

resource "google_compute_router" "egress" {
  project = var.project_id
  name    = "${var.network_name}-router"
  region  = var.region
  network = google_compute_network.vpc.id
}

resource "google_compute_router_nat" "egress" {
  project = var.project_id
  name    = "${var.network_name}-nat"
  router  = google_compute_router.egress.name
  region  = var.region

  nat_ip_allocate_option             = "MANUAL_ONLY"
  nat_ips                            = [google_compute_address.egress.self_link]
  source_subnetwork_ip_ranges_to_nat = "LIST_OF_SUBNETWORKS"

  subnetwork {
    name                    = google_compute_subnetwork.run.id
    source_ip_ranges_to_nat = ["ALL_IP_RANGES"]
  }

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}
