output "oncall_topic_arn" {
  description = "SNS topic that pages on-call: alarms and failed DAG tasks publish here."
  value       = try(aws_sns_topic.oncall.arn, null)
}

output "alarm_names" {
  description = "Names of the pipeline's alarms."
  value = concat(
    [aws_cloudwatch_metric_alarm.hourly_deadline.alarm_name, aws_cloudwatch_metric_alarm.late_landing.alarm_name],
    [aws_cloudwatch_metric_alarm.search_drift.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.queue : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.iterator_age : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.worker_errors : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.database : a.alarm_name],
  )
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the pipeline's flow."
  value       = try(aws_cloudwatch_dashboard.this.dashboard_name, null)
}
