# The on-call topic every alarm and every failed DAG task publishes to, and the pipeline's alarms.
resource "aws_sns_topic" "oncall" {
  name = "${var.name}-oncall"
  # checkov:skip=CKV_AWS_26: alarm notifications carry no message data; AWS-managed SSE would block CloudWatch's publish without a key policy.

  tags = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alert_emails)

  topic_arn = aws_sns_topic.oncall.arn
  protocol  = "email"
  endpoint  = each.value
}

# The hourly DAG puts HourlyOutputDelaySeconds when an hour is verified, and its Deadline Alert
# puts it when the hour is late; a missing datapoint means no hour was verified at all.
resource "aws_cloudwatch_metric_alarm" "hourly_deadline" {
  alarm_name          = "${var.name}-hourly-deadline"
  alarm_description   = "An hour's scored output was not verified within ${var.hourly_due_seconds / 60} minutes of the hour closing. Runbook: ${var.runbook_base_url}/hourly-deadline-missed.md"
  namespace           = "trustpipe/pipeline"
  metric_name         = "HourlyOutputDelaySeconds"
  dimensions          = { Dag = var.hourly_dag_id }
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = var.hourly_due_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.oncall.arn]
  ok_actions          = [aws_sns_topic.oncall.arn]

  tags = var.tags
}
