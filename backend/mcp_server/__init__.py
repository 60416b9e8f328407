"""`hearth mcp`: Hearth's documents and images as Model Context Protocol tools for other agents,
a thin adapter over HearthClient (the backend owns the stores)."""
