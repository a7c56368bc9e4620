"""The structured, sourced knowledge file: schema, loader and lookups."""
