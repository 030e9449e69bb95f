"""AWS emulated for development: the moto server over HTTP/1.1 and h2c with the metrics AWS would
publish, the fault proxy in front of it, and the CloudWatch alarms evaluated from the workers' EMF.
Never installed on a worker."""
