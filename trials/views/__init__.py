"""The trials app's pages, one module per part of the coordinator's work."""
