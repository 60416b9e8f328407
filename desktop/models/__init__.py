"""The Models dialog: installed and discovered models, the catalog, downloads and settings."""
