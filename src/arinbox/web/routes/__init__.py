"""The console's routes, one module per page, and the JSON API."""
