"""Knowledge: collections of the user's documents, extracted, chunked, embedded and retrieved."""
