"""Document collections in the GUI: the panel, indexing progress, folder watching, sources."""
