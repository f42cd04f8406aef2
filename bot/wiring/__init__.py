"""Wiring: the settings, the logs, and the Application that joins the steps together."""
