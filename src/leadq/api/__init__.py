"""The HTTP layer: thin FastAPI routes over `LeadQualifier`."""
