"""Services: every write to the monitoring domain goes through one of these functions."""
