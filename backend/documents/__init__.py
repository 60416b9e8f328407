"""Document collections: parsing files, chunking, indexing into Chroma and hybrid retrieval."""
