"""Monitoring: the assets Prometheus and Grafana load (scrape config, alert rules, dashboard),
live metrics read from Prometheus, the retrain trigger with its cooldown, notifications, and the
pipeline's own step metrics."""
