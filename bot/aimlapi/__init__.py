"""The AI/ML API: its client (both endpoints, every answer it documents) and the pace of creates."""
