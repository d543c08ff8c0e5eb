"""Hearth core: LLM hosting, models, speech, vision, storage. Imports no Qt, so it runs from a CLI, a test or a server."""
