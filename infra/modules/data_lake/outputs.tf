output "landing_bucket" {
  description = "Bucket the sensors upload Avro container files to."
  value       = try(aws_s3_bucket.this["landing"].id, null)
}

output "scored_bucket" {
  description = "Bucket the scoring job writes scored messages, stats and manifests to."
  value       = try(aws_s3_bucket.this["scored"].id, null)
}

output "archive_bucket" {
  description = "Data-lake bucket for raw stream archives and ground truth."
  value       = try(aws_s3_bucket.this["archive"].id, null)
}

output "bucket_arns" {
  description = "ARNs of the buckets by role (landing, scored, archive)."
  value       = try({ for role, bucket in aws_s3_bucket.this : role => bucket.arn }, null)
}
