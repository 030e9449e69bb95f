"""The alerter: stored QUARANTINE/LABEL verdicts -> one action per message to the enterprise's
mail system, and batched alerts to its users."""
