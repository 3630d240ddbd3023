"""Selectors: reads of the monitoring domain, always filtered by owner where objects are owned."""
