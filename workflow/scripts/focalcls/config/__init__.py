"""The configuration: loaded, its YAML checked, completed from the schema, checked across keys."""
