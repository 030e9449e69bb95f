# One table holds schemas, subject versions, config and the id counter (single-table design);
# conditional writes keep ids unique when several registry Lambdas register at once.
resource "aws_dynamodb_table" "this" {
  name         = "${var.name}-schema-registry"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = var.tags
}
