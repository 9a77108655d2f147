"""Feature-store code: definitions, ingestion, point-in-time training sets and online lookup."""
