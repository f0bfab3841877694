"""The sponsor API, version 1: read-only, pseudonymized exports (see trials/exports.py)."""
