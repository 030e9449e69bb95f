"""Planning from what `terraform apply` deploys: the importers' scaling simulated against other
policies, and the monthly cost by component from dated list prices. Pure Python, no AWS call."""
