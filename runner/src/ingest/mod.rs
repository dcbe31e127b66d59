//! Webhook receivers (DrChrono, Deep Cura), the durable inbox and routing to pipelines.
